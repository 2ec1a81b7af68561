"""The patient's treatment endpoints (ice and heat, rest, medication, walks, the state and protocol of an
episode) and the physiotherapist's protocol of a patient."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from backcare.core.pagination import NewestFirstCursor
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
from recovery.treatment import selectors, services
from recovery.treatment.api import serializers as ts

# The client-id writes, shared with the offline batch (recovery/api/sync.py).
APPLICATION_PUT = ClientWrite(ts.ApplicationPutSerializer, services.application_put, ts.ApplicationOutputSerializer)
APPLICATION_STOP = ClientWrite(ts.ApplicationStopSerializer, services.application_stop, ts.ApplicationOutputSerializer)
REST_PUT = ClientWrite(ts.RestPutSerializer, services.rest_put, ts.RestOutputSerializer)
REST_STOP = ClientWrite(ts.RestStopSerializer, services.rest_stop, ts.RestOutputSerializer)
MEDICATION_PUT = ClientWrite(ts.MedicationPutSerializer, services.medication_put, ts.MedicationOutputSerializer)
ACTIVITY_PUT = ClientWrite(ts.ActivityPutSerializer, services.activity_put, ts.ActivityOutputSerializer)


class StartedCursor(NewestFirstCursor):
    ordering = ("-started_at", "-id")


class MedicationCursor(NewestFirstCursor):
    ordering = ("-taken_at", "-id")


def _episode_filter_param(what: str) -> OpenApiParameter:
    return OpenApiParameter("episode", OpenApiTypes.UUID, description=f"Only this episode's {what}")


def _own_page(view: PatientAPIView, request, selector, output) -> Response:
    """A page of the caller's records, newest first, optionally of one of their episodes (404 if not theirs)."""
    records = selector(patient=request.user, episode_id=EpisodeFilter.parse(request).get("episode_id"))
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(records, request, view=view)
    return paginator.get_paginated_response(output(page, many=True).data)


# --- ice and heat applications -------------------------------------------------------------------


class ApplicationListView(PatientAPIView):
    pagination_class = StartedCursor

    @extend_schema(
        parameters=[OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode's applications")],
        responses={200: ts.ApplicationOutputSerializer(many=True)},
        tags=["treatment"],
    )
    def get(self, request):
        return _own_page(self, request, selectors.application_list, ts.ApplicationOutputSerializer)


class ApplicationDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.ApplicationOutputSerializer}, tags=["treatment"])
    def get(self, request, application_id: uuid.UUID):
        app = selectors.application_get(patient=request.user, client_uuid=application_id)
        return Response(ts.ApplicationOutputSerializer(app).data)

    @extend_schema(
        request=ts.ApplicationPutSerializer,
        responses={
            201: ts.ApplicationOutputSerializer,
            200: OpenApiResponse(ts.ApplicationOutputSerializer, description="Replay, or the stop of a running one."),
            409: OpenApiResponse(description="Not allowed now (running, pausing, phase); allowed_from says when."),
        },
        tags=["treatment"],
    )
    def put(self, request, application_id: uuid.UUID):
        """Start an ice or heat application (or record one made offline, with its stop)."""
        return APPLICATION_PUT.answer(request, application_id)


class ApplicationStopView(PatientAPIView):
    @extend_schema(
        request=ts.ApplicationStopSerializer,
        responses={200: ts.ApplicationOutputSerializer, 409: OpenApiResponse(description="Not running.")},
        tags=["treatment"],
    )
    def post(self, request, application_id: uuid.UUID):
        return APPLICATION_STOP.answer(request, application_id)


class EpisodeStateView(PatientAPIView):
    @extend_schema(responses={200: ts.EpisodeStateSerializer}, tags=["treatment"])
    def get(self, request, episode_id: uuid.UUID):
        """Phase, running timer, what is allowed now and why, the next action and the planned reminders."""
        state = selectors.episode_state(patient=request.user, episode_id=episode_id)
        return Response(ts.EpisodeStateSerializer(state).data)


# --- rest, medication, walks ---------------------------------------------------------------------


class RestListView(PatientAPIView):
    pagination_class = StartedCursor

    @extend_schema(
        parameters=[_episode_filter_param("rest periods")],
        responses={200: ts.RestOutputSerializer(many=True)},
        tags=["treatment"],
    )
    def get(self, request):
        return _own_page(self, request, selectors.rest_list, ts.RestOutputSerializer)


class RestDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.RestOutputSerializer}, tags=["treatment"])
    def get(self, request, rest_id: uuid.UUID):
        return Response(ts.RestOutputSerializer(selectors.rest_get(patient=request.user, client_uuid=rest_id)).data)

    @extend_schema(
        request=ts.RestPutSerializer,
        responses={
            201: ts.RestOutputSerializer,
            200: OpenApiResponse(ts.RestOutputSerializer, description="Replay, or the stop of a running one."),
            409: OpenApiResponse(
                description="The id was used for another rest period, or it would overlap one already "
                "recorded (`overlaps` names it)."
            ),
        },
        tags=["treatment"],
    )
    def put(self, request, rest_id: uuid.UUID):
        """Start bed rest now, or record one made offline with its start and stop."""
        return REST_PUT.answer(request, rest_id)


class RestStopView(PatientAPIView):
    @extend_schema(
        request=ts.RestStopSerializer,
        responses={
            200: ts.RestOutputSerializer,
            409: OpenApiResponse(description="Not running, or already stopped at another time."),
        },
        tags=["treatment"],
    )
    def post(self, request, rest_id: uuid.UUID):
        return REST_STOP.answer(request, rest_id)


class MedicationListView(PatientAPIView):
    pagination_class = MedicationCursor

    @extend_schema(
        parameters=[_episode_filter_param("intakes")],
        responses={200: ts.MedicationOutputSerializer(many=True)},
        tags=["treatment"],
    )
    def get(self, request):
        return _own_page(self, request, selectors.medication_list, ts.MedicationOutputSerializer)


class MedicationDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.MedicationOutputSerializer}, tags=["treatment"])
    def get(self, request, medication_id: uuid.UUID):
        intake = selectors.medication_get(patient=request.user, client_uuid=medication_id)
        return Response(ts.MedicationOutputSerializer(intake).data)

    @extend_schema(
        request=ts.MedicationPutSerializer,
        responses={
            201: ts.MedicationOutputSerializer,
            200: OpenApiResponse(ts.MedicationOutputSerializer, description="Replay: already stored, unchanged."),
            409: OpenApiResponse(description="This id was stored with different content."),
        },
        tags=["treatment"],
    )
    def put(self, request, medication_id: uuid.UUID):
        """Log a medication intake by class and dose (default: taken now)."""
        return MEDICATION_PUT.answer(request, medication_id)


class ActivityListView(PatientAPIView):
    pagination_class = StartedCursor

    @extend_schema(
        parameters=[_episode_filter_param("activities")],
        responses={200: ts.ActivityOutputSerializer(many=True)},
        tags=["treatment"],
    )
    def get(self, request):
        return _own_page(self, request, selectors.activity_list, ts.ActivityOutputSerializer)


class ActivityDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.ActivityOutputSerializer}, tags=["treatment"])
    def get(self, request, activity_id: uuid.UUID):
        activity = selectors.activity_get(patient=request.user, client_uuid=activity_id)
        return Response(ts.ActivityOutputSerializer(activity).data)

    @extend_schema(
        request=ts.ActivityPutSerializer,
        responses={
            201: ts.ActivityOutputSerializer,
            200: OpenApiResponse(ts.ActivityOutputSerializer, description="Replay: already stored, unchanged."),
            409: OpenApiResponse(
                description="This id was stored with different content, or the walk overlaps another one "
                "(`overlaps` names it)."
            ),
        },
        tags=["treatment"],
    )
    def put(self, request, activity_id: uuid.UUID):
        """Log a finished walk with the pain before and after it."""
        return ACTIVITY_PUT.answer(request, activity_id)


class EpisodeProtocolView(PatientAPIView):
    @extend_schema(responses={200: ts.EpisodeProtocolSerializer}, tags=["treatment"])
    def get(self, request, episode_id: uuid.UUID):
        """The protocol the episode follows: values in force, its version, the hard bounds, the prescriptions."""
        overview = selectors.episode_protocol_overview_for_patient(patient=request.user, episode_id=episode_id)
        return Response(ts.EpisodeProtocolSerializer(overview).data)


class ProtocolView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID, EPISODE],
        responses={
            200: ts.EpisodeProtocolSerializer,
            404: OpenApiResponse(description="No such patient, or the patient has no episode yet."),
            **AUDITED,
        },
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """The protocol an episode follows (default: the open one, else the latest), its bounds and prescriptions."""
        episode_id = EpisodeFilter.parse(request).get("episode_id")
        overview = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.protocol",
            access=access_context(request),
            read=lambda link: selectors.patient_protocol_overview(patient=link.patient, episode_id=episode_id),
        )
        return Response(ts.EpisodeProtocolSerializer(overview).data)

    @extend_schema(
        parameters=[PATIENT_ID],
        request=ts.PrescriptionInputSerializer,
        responses={
            201: ts.EpisodeProtocolSerializer,
            409: OpenApiResponse(description="No open episode, or the episode named is resolved."),
            **AUDITED,
        },
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """Prescribe protocol values for the patient's episode, inside the hard safety bounds."""
        data = ts.PrescriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        prescription = care_services.care_prescription_create(
            physiotherapist=request.user,
            patient_id=patient_id,
            overrides=v["overrides"],
            note=v["note"],
            episode_id=v.get("episode"),
            access=access_context(request),
        )
        overview = selectors.episode_protocol_overview(episode=prescription.episode)
        return Response(ts.EpisodeProtocolSerializer(overview).data, status=status.HTTP_201_CREATED)
