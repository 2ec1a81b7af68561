import uuid

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from backcare.core.pagination import NewestFirstCursor
from recovery.api.common import (
    AUDITED,
    EPISODE,
    PATIENT_ID,
    PatientAPIView,
    PhysioAPIView,
    access_context,
    audit_read,
    episode_filter,
    episode_param,
)
from recovery.care import selectors as care_selectors
from recovery.care import services as care_services
from recovery.episodes import selectors
from recovery.protocol.definition import protocol_to_dict
from recovery.timeline.selectors import episode_current
from recovery.treatment import selectors as treatment_selectors
from recovery.treatment import services as treatment_services
from recovery.treatment.api import serializers as ts
from recovery.treatment.models import Activity, Application, MedicationIntake, RestPeriod


class ApplicationCursor(NewestFirstCursor):
    ordering = ("-started_at", "-id")


class ApplicationListView(PatientAPIView):
    pagination_class = ApplicationCursor

    @extend_schema(
        parameters=[OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode's applications")],
        responses={200: ts.ApplicationOutputSerializer(many=True)},
        tags=["protocol"],
    )
    def get(self, request):
        episode_id = episode_filter(request)
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
        result = application_stop_from(request.user, application_id, request.data)
        return Response(ts.ApplicationOutputSerializer(result.record).data)


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


def application_stop_from(user, application_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.ApplicationStopSerializer(data=body)
    data.is_valid(raise_exception=True)
    app = treatment_services.application_stop(
        patient=user, client_uuid=application_id, stopped_at=data.validated_data["stopped_at"]
    )
    return treatment_services.WriteResult(app, False)


# --- rest, medication, walks ---------------------------------------------------------------------


class RestCursor(NewestFirstCursor):
    ordering = ("-started_at", "-id")


class MedicationCursor(NewestFirstCursor):
    ordering = ("-taken_at", "-id")


class ActivityCursor(NewestFirstCursor):
    ordering = ("-started_at", "-id")


def _own_list(view, request, model, output):
    """The caller's records, newest first, optionally of one of their episodes (404 if not theirs)."""
    episode_id = episode_filter(request)
    qs = model.objects.filter(patient=request.user)
    if episode_id is not None:
        qs = qs.filter(episode_id=episode_id)
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(output(page, many=True).data)


def _own_record(model, user, client_uuid: uuid.UUID, what: str):
    record = model.objects.filter(patient=user, client_uuid=client_uuid).first()
    if record is None:
        raise Http404(f"No such {what}.")
    return record


def _written(result: treatment_services.WriteResult, output) -> Response:
    return Response(
        output(result.record).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    )


def _episode_filter_param(what: str) -> OpenApiParameter:
    return OpenApiParameter("episode", OpenApiTypes.UUID, description=f"Only this episode's {what}")


def rest_put_from(user, rest_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.RestPutSerializer(data=body)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return treatment_services.rest_put(
        patient=user,
        client_uuid=rest_id,
        started_at=v.get("started_at"),
        stopped_at=v.get("stopped_at"),
        episode_id=v.get("episode"),
    )


def rest_stop_from(user, rest_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.RestStopSerializer(data=body)
    data.is_valid(raise_exception=True)
    rest = treatment_services.rest_stop(patient=user, client_uuid=rest_id, stopped_at=data.validated_data["stopped_at"])
    return treatment_services.WriteResult(rest, False)


def medication_put_from(user, medication_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.MedicationPutSerializer(data=body)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return treatment_services.medication_put(
        patient=user,
        client_uuid=medication_id,
        med_class=v["med_class"],
        dose_mg=v["dose_mg"],
        taken_at=v.get("taken_at"),
        name=v["name"],
        episode_id=v.get("episode"),
    )


def activity_put_from(user, activity_id: uuid.UUID, body) -> treatment_services.WriteResult:
    data = ts.ActivityPutSerializer(data=body)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return treatment_services.activity_put(
        patient=user,
        client_uuid=activity_id,
        kind=v["kind"],
        started_at=v["started_at"],
        minutes=v["minutes"],
        pain_before=v["pain_before"],
        pain_after=v["pain_after"],
        episode_id=v.get("episode"),
    )


class RestListView(PatientAPIView):
    pagination_class = RestCursor

    @extend_schema(
        parameters=[_episode_filter_param("rest periods")],
        responses={200: ts.RestOutputSerializer(many=True)},
        tags=["protocol"],
    )
    def get(self, request):
        return _own_list(self, request, RestPeriod, ts.RestOutputSerializer)


class RestDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.RestOutputSerializer}, tags=["protocol"])
    def get(self, request, rest_id: uuid.UUID):
        return Response(ts.RestOutputSerializer(_own_record(RestPeriod, request.user, rest_id, "rest period")).data)

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
        tags=["protocol"],
    )
    def put(self, request, rest_id: uuid.UUID):
        """Start bed rest now, or record one made offline with its start and stop."""
        return _written(rest_put_from(request.user, rest_id, request.data), ts.RestOutputSerializer)


class RestStopView(PatientAPIView):
    @extend_schema(
        request=ts.RestStopSerializer,
        responses={
            200: ts.RestOutputSerializer,
            409: OpenApiResponse(description="Not running, or already stopped at another time."),
        },
        tags=["protocol"],
    )
    def post(self, request, rest_id: uuid.UUID):
        return _written(rest_stop_from(request.user, rest_id, request.data), ts.RestOutputSerializer)


class MedicationListView(PatientAPIView):
    pagination_class = MedicationCursor

    @extend_schema(
        parameters=[_episode_filter_param("intakes")],
        responses={200: ts.MedicationOutputSerializer(many=True)},
        tags=["protocol"],
    )
    def get(self, request):
        return _own_list(self, request, MedicationIntake, ts.MedicationOutputSerializer)


class MedicationDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.MedicationOutputSerializer}, tags=["protocol"])
    def get(self, request, medication_id: uuid.UUID):
        intake = _own_record(MedicationIntake, request.user, medication_id, "medication intake")
        return Response(ts.MedicationOutputSerializer(intake).data)

    @extend_schema(
        request=ts.MedicationPutSerializer,
        responses={
            201: ts.MedicationOutputSerializer,
            200: OpenApiResponse(ts.MedicationOutputSerializer, description="Replay: already stored, unchanged."),
            409: OpenApiResponse(description="This id was stored with different content."),
        },
        tags=["protocol"],
    )
    def put(self, request, medication_id: uuid.UUID):
        """Log a medication intake by class and dose (default: taken now)."""
        return _written(medication_put_from(request.user, medication_id, request.data), ts.MedicationOutputSerializer)


class ActivityListView(PatientAPIView):
    pagination_class = ActivityCursor

    @extend_schema(
        parameters=[_episode_filter_param("activities")],
        responses={200: ts.ActivityOutputSerializer(many=True)},
        tags=["protocol"],
    )
    def get(self, request):
        return _own_list(self, request, Activity, ts.ActivityOutputSerializer)


class ActivityDetailView(PatientAPIView):
    @extend_schema(responses={200: ts.ActivityOutputSerializer}, tags=["protocol"])
    def get(self, request, activity_id: uuid.UUID):
        return Response(ts.ActivityOutputSerializer(_own_record(Activity, request.user, activity_id, "activity")).data)

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
        tags=["protocol"],
    )
    def put(self, request, activity_id: uuid.UUID):
        """Log a finished walk with the pain before and after it."""
        return _written(activity_put_from(request.user, activity_id, request.data), ts.ActivityOutputSerializer)


class EpisodeProtocolView(PatientAPIView):
    @extend_schema(responses={200: ts.EpisodeProtocolSerializer}, tags=["protocol"])
    def get(self, request, episode_id: uuid.UUID):
        """The protocol the episode follows: values in force, its version, the hard bounds, the prescriptions."""
        episode = selectors.episode_get(patient=request.user, episode_id=episode_id)
        return Response(
            ts.EpisodeProtocolSerializer(treatment_selectors.episode_protocol_overview(episode=episode)).data
        )


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
        patient = care_selectors.patient_get_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        episode = episode_param(request, patient) or episode_current(patient=patient)
        if episode is None:
            raise NotFound("The patient has no episode yet.")
        overview = treatment_selectors.episode_protocol_overview(episode=episode)
        audit_read(request, patient_ids=[patient.pk], action="patient.protocol")
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
        overview = treatment_selectors.episode_protocol_overview(episode=prescription.episode)
        return Response(ts.EpisodeProtocolSerializer(overview).data, status=status.HTTP_201_CREATED)
