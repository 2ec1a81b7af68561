import uuid

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from backcare.core.pagination import NewestFirstCursor
from recovery import selectors, treatment_selectors, treatment_services
from recovery.api import treatment_serializers as ts
from recovery.api.views import PatientAPIView
from recovery.models import Application
from recovery.protocol.definition import protocol_to_dict


class ApplicationCursor(NewestFirstCursor):
    ordering = ("-started_at", "-id")


def _episode_filter(request) -> uuid.UUID | None:
    raw = request.query_params.get("episode")
    if raw is None:
        return None
    try:
        episode_id = uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({"episode": ["Must be a valid UUID."]}) from exc
    selectors.episode_get(patient=request.user, episode_id=episode_id)  # 404 unless it is the caller's
    return episode_id


class ApplicationListView(PatientAPIView):
    pagination_class = ApplicationCursor

    @extend_schema(
        parameters=[OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode's applications")],
        responses={200: ts.ApplicationOutputSerializer(many=True)},
        tags=["protocol"],
    )
    def get(self, request):
        episode_id = _episode_filter(request)
        qs = Application.objects.filter(patient=request.user)
        if episode_id is not None:
            qs = qs.filter(episode_id=episode_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ts.ApplicationOutputSerializer(page, many=True).data)


def application_put_from(user, application_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.ApplicationPutSerializer(data=body)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return treatment_services.application_put(
        patient=user,
        client_uuid=application_id,
        kind=v["kind"],
        started_at=v.get("started_at"),
        stopped_at=v.get("stopped_at"),
        episode_id=v.get("episode"),
    )


class ApplicationDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.ApplicationOutputSerializer}, tags=["protocol"])
    def get(self, request, application_id: uuid.UUID):
        app = Application.objects.filter(patient=request.user, client_uuid=application_id).first()
        if app is None:
            raise Http404("No such application.")
        return Response(ts.ApplicationOutputSerializer(app).data)

    @extend_schema(
        request=ts.ApplicationPutSerializer,
        responses={
            201: ts.ApplicationOutputSerializer,
            200: OpenApiResponse(ts.ApplicationOutputSerializer, description="Replay, or the stop of a running one."),
            409: OpenApiResponse(description="Not allowed now (running, pausing, phase); allowed_from says when."),
        },
        tags=["protocol"],
    )
    def put(self, request, application_id: uuid.UUID):
        """Start an ice or heat application (or record one made offline, with its stop)."""
        result = application_put_from(request.user, application_id, request.data)
        return Response(
            ts.ApplicationOutputSerializer(result.record).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class ApplicationStopView(PatientAPIView):
    @extend_schema(
        request=ts.ApplicationStopSerializer,
        responses={200: ts.ApplicationOutputSerializer, 409: OpenApiResponse(description="Not running.")},
        tags=["protocol"],
    )
    def post(self, request, application_id: uuid.UUID):
        data = ts.ApplicationStopSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        app = treatment_services.application_stop(
            patient=request.user, client_uuid=application_id, stopped_at=data.validated_data["stopped_at"]
        )
        return Response(ts.ApplicationOutputSerializer(app).data)


class EpisodeStateView(PatientAPIView):
    @extend_schema(responses={200: ts.EpisodeStateSerializer}, tags=["protocol"])
    def get(self, request, episode_id: uuid.UUID):
        """Phase, running timer, what is allowed now and why, the next action and the planned reminders."""
        episode = selectors.episode_get(patient=request.user, episode_id=episode_id)
        now = timezone.now()
        protocol = treatment_selectors.episode_protocol(episode=episode)
        plan = treatment_selectors.episode_plan(episode=episode, now=now, protocol=protocol)
        return Response(ts.EpisodeStateSerializer(state_payload(episode, plan, protocol, now)).data)


def state_payload(episode, plan, protocol, now) -> dict:
    running = None
    if plan.running is not None:
        ends = plan.running_until
        running = {
            "id": plan.running.key,
            "kind": plan.running.kind,
            "started_at": plan.running.start,
            "ends_at": ends,
            "seconds_left": max(0, int((ends - now).total_seconds())),
        }
    return {
        "episode": episode.id,
        "now": now,
        "phase": plan.phase,
        "day": plan.day,
        "acute_ends_at": plan.acute_ends_at,
        "state": plan.state,
        "running": running,
        "pause_until": plan.pause_until,
        "allowed": {kind: vars(allowed) for kind, allowed in plan.allowed.items()},
        "next_action": vars(plan.next_action) if plan.next_action else None,
        "reminders": [vars(r) for r in plan.reminders],
        "warnings": [vars(n) for n in plan.notices],
        "rest": {
            "total_minutes": int(plan.rest_total.total_seconds() // 60),
            "resting_since": plan.resting_since,
            "nudge_hours": protocol.rest_nudge_hours,
            "cap_hours": protocol.rest_cap_hours,
        },
        "nsaid_days": plan.nsaid_days,
        "ready_to_run": plan.ready_to_run,
        "protocol": protocol_to_dict(protocol),
    }
