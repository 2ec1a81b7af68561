"""The patient's episodes and check-ins."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from backcare.core.pagination import NewestFirstCursor
from backcare.core.replay import Written
from recovery.api.common import ClientWrite, EpisodeFilter, PatientAPIView
from recovery.api.shapes import EmptyInputSerializer
from recovery.episodes import selectors, services
from recovery.episodes.api import serializers as s


def _checkin_put(*, patient, client_uuid: uuid.UUID, **data) -> Written:
    # The check-in's content is hashed as sent (absent fields stay absent), so it goes to the service whole.
    return services.checkin_put(patient=patient, client_uuid=client_uuid, data=data)


# The client-id write, shared with the offline batch (recovery/api/sync.py).
CHECKIN_PUT = ClientWrite(s.CheckInInputSerializer, _checkin_put, s.CheckInOutputSerializer)


class EpisodeCursor(NewestFirstCursor):
    ordering = ("-onset", "-id")


class CheckInCursor(NewestFirstCursor):
    ordering = ("-occurred_at", "-id")


class EpisodeListView(PatientAPIView):
    pagination_class = EpisodeCursor  # also tells the schema the list is paginated

    @extend_schema(responses={200: s.EpisodeOutputSerializer(many=True)}, tags=["episodes"])
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.episode_list(patient=request.user), request, view=self)
        return paginator.get_paginated_response(s.EpisodeOutputSerializer(page, many=True).data)

    @extend_schema(
        request=s.EpisodeOpenInputSerializer,
        responses={
            201: s.EpisodeOutputSerializer,
            200: OpenApiResponse(
                s.EpisodeOutputSerializer, description="Replay of an earlier open (same client_uuid)."
            ),
            409: OpenApiResponse(description="An episode is already open."),
        },
        tags=["episodes"],
    )
    def post(self, request):
        data = s.EpisodeOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.episode_open(patient=request.user, **data.validated_data)
        return Response(
            s.EpisodeOutputSerializer(result.record).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class EpisodeDetailView(PatientAPIView):
    @extend_schema(responses={200: s.EpisodeOutputSerializer}, tags=["episodes"])
    def get(self, request, episode_id: uuid.UUID):
        episode = selectors.episode_get(patient=request.user, episode_id=episode_id)
        return Response(s.EpisodeOutputSerializer(episode).data)


class EpisodeResolveView(PatientAPIView):
    @extend_schema(
        request=s.EpisodeResolveInputSerializer,
        responses={200: s.EpisodeOutputSerializer, 409: OpenApiResponse(description="Already resolved.")},
        tags=["episodes"],
    )
    def post(self, request, episode_id: uuid.UUID):
        # No body parses to {}; a falsy JSON body such as [] or "" is not an object and must not resolve.
        data = s.EpisodeResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        episode = services.episode_resolve(
            patient=request.user, episode_id=episode_id, resolved_at=data.validated_data["resolved_at"]
        )
        return Response(s.EpisodeOutputSerializer(episode).data)


class EpisodeResumeView(PatientAPIView):
    @extend_schema(
        request=EmptyInputSerializer,
        responses={200: s.EpisodeOutputSerializer, 409: OpenApiResponse(description="Not paused, or resolved.")},
        tags=["episodes"],
    )
    def post(self, request, episode_id: uuid.UUID):
        """After an emergency answer, once help was found: take the self-care plan up again."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        episode = services.episode_resume(patient=request.user, episode_id=episode_id)
        return Response(s.EpisodeOutputSerializer(episode).data)


class EpisodeDailyView(PatientAPIView):
    @extend_schema(responses={200: s.DailySummaryOutputSerializer}, tags=["episodes"])
    def get(self, request, episode_id: uuid.UUID):
        daily = selectors.episode_daily(patient=request.user, episode_id=episode_id)
        return Response(s.DailySummaryOutputSerializer(daily).data)


class CheckInListView(PatientAPIView):
    pagination_class = CheckInCursor  # also tells the schema the list is paginated

    @extend_schema(
        parameters=[OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode's check-ins")],
        responses={200: s.CheckInOutputSerializer(many=True)},
        tags=["check-ins"],
    )
    def get(self, request):
        checkins = selectors.checkin_list(
            patient=request.user, episode_id=EpisodeFilter.parse(request).get("episode_id")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(checkins, request, view=self)
        return paginator.get_paginated_response(s.CheckInOutputSerializer(page, many=True).data)


class CheckInDetailView(PatientAPIView):
    @extend_schema(responses={200: s.CheckInOutputSerializer}, tags=["check-ins"])
    def get(self, request, checkin_id: uuid.UUID):
        checkin = selectors.checkin_get(patient=request.user, client_uuid=checkin_id)
        return Response(s.CheckInOutputSerializer(checkin).data)

    @extend_schema(
        request=s.CheckInInputSerializer,
        responses={
            201: s.CheckInOutputSerializer,
            200: OpenApiResponse(s.CheckInOutputSerializer, description="Replay: already stored, unchanged."),
            409: OpenApiResponse(description="This id was stored with different content."),
        },
        tags=["check-ins"],
    )
    def put(self, request, checkin_id: uuid.UUID):
        return CHECKIN_PUT.answer(request, checkin_id)
