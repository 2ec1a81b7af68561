"""The patient answers questionnaires (online or replayed offline, under a client id); the linked physiotherapist
reads the scores and their trend (audited, through the one visibility rule)."""

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from backcare.core.pagination import NewestFirstCursor
from backcare.core.replay import Written
from recovery.api.common import (
    AUDITED,
    EPISODE,
    PATIENT_ID,
    ClientWrite,
    EpisodeFilter,
    PatientAPIView,
    PhysioAPIView,
    access_context,
)
from recovery.care import services as care_services
from recovery.outcomes import selectors, services
from recovery.outcomes.api import serializers as s


def _response_put(*, patient, client_uuid: uuid.UUID, **data) -> Written:
    return services.questionnaire_response_put(patient=patient, client_uuid=client_uuid, **data)


# The client-id write, shared with the offline batch (recovery/api/sync.py).
RESPONSE_PUT = ClientWrite(s.ResponseInputSerializer, _response_put, s.ResponseOutputSerializer)


class ResponseCursor(NewestFirstCursor):
    ordering = ("-occurred_at", "-id")


class QuestionnaireListView(PatientAPIView):
    @extend_schema(responses={200: s.QuestionnaireOutputSerializer(many=True)}, tags=["questionnaires"])
    def get(self, request):
        """The questionnaires this deployment offers, worded (licensed ones only where the licence file is)."""
        return Response([s.questionnaire_data(o) for o in selectors.questionnaire_list()])


class QuestionnaireDetailView(PatientAPIView):
    @extend_schema(responses={200: s.QuestionnaireOutputSerializer}, tags=["questionnaires"])
    def get(self, request, code: str):
        return Response(s.questionnaire_data(selectors.questionnaire_get(code=code)))


class QuestionnaireOpenView(PatientAPIView):
    @extend_schema(responses={200: s.OpenQuestionnaireSerializer(many=True)}, tags=["questionnaires"])
    def get(self, request):
        """What my open episode asks me to answer now (windows open and not answered yet)."""
        return Response(
            s.OpenQuestionnaireSerializer(selectors.questionnaires_open_for(patient=request.user), many=True).data
        )


class ResponseListView(PatientAPIView):
    pagination_class = ResponseCursor

    @extend_schema(
        parameters=[EPISODE], responses={200: s.ResponseOutputSerializer(many=True)}, tags=["questionnaires"]
    )
    def get(self, request):
        responses = selectors.response_list(patient=request.user, **EpisodeFilter.parse(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(responses, request, view=self)
        return paginator.get_paginated_response(s.ResponseOutputSerializer(page, many=True).data)


class ResponseDetailView(PatientAPIView):
    @extend_schema(responses={200: s.ResponseOutputSerializer}, tags=["questionnaires"])
    def get(self, request, response_id: uuid.UUID):
        return Response(
            s.ResponseOutputSerializer(selectors.response_get(patient=request.user, client_uuid=response_id)).data
        )

    @extend_schema(
        request=s.ResponseInputSerializer,
        responses={
            201: s.ResponseOutputSerializer,
            200: OpenApiResponse(s.ResponseOutputSerializer, description="Replay: already stored, unchanged."),
            400: OpenApiResponse(description="Not offered here, an answer out of range, or too few answers to score."),
            409: OpenApiResponse(description="This id was stored with different content."),
        },
        tags=["questionnaires"],
    )
    def put(self, request, response_id: uuid.UUID):
        return RESPONSE_PUT.answer(request, response_id)


class PhysioOutcomesView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID, EPISODE], responses={200: s.OutcomeSerializer(many=True), **AUDITED}, tags=["physio"]
    )
    def get(self, request, patient_id: int):
        """One of my patients' questionnaire scores, oldest first, with the latest and its trend."""
        filters = EpisodeFilter.parse(request)
        outcomes = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.outcomes",
            access=access_context(request),
            read=lambda link: selectors.outcome_scores(patient=link.patient, **filters),
        )
        return Response(s.OutcomeSerializer(outcomes, many=True).data)
