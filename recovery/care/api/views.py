"""The care team's endpoints.

Patients: redeem an invitation (consent), list who can see their data, revoke a link, read who viewed
their data. Physiotherapists: invite, the triage queue, one patient's summary, timeline, daily
aggregates, notes and protocol, mark reviewed, discharge.

Every physiotherapist endpoint about patients reaches them only through recovery.care.selectors (the
one visibility rule), and writes what it shows to the access log in the same request before answering:
if the log cannot be written, the answer is 503 and carries no data.
"""

import uuid
from datetime import date

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from backcare.audit.selectors import access_log_for_patient
from backcare.audit.services import access_record
from backcare.core.pagination import NewestFirstCursor
from backcare.core.permissions import IsPatient, IsPhysiotherapist
from recovery.care import selectors as care_selectors
from recovery.care import services as care_services
from recovery.care.api import serializers as cs
from recovery.care.models import CareLink
from recovery.timeline.selectors import (
    TIMELINE_KINDS,
    TimelineCursor,
    episode_current,
    episode_daily_aggregates,
    local_day_bounds,
    patient_timeline,
)
from recovery.treatment import selectors as treatment_selectors
from recovery.treatment.api import serializers as ts
from recovery.triage.selectors import PHASES, REASONS, TriageCursor, triage_page

AUDITED = {503: OpenApiResponse(description="The access could not be written to the access log; nothing is shown.")}
PATIENT_ID = OpenApiParameter("patient_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The patient's id")


def _audit(request, *, patient_ids, action: str) -> None:
    """Record that the caller is shown these patients' data. Raises (503) if it cannot: answer nothing then."""
    access_record(
        actor=request.user,
        patient_ids=patient_ids,
        action=action,
        path=request.get_full_path(),
        request_id=getattr(request, "request_id", "") or uuid.uuid4().hex,
    )


def _page_size(request) -> int:
    return NewestFirstCursor().get_page_size(request)


def _next_url(request, cursor: str | None) -> str | None:
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor) if cursor else None


def _date_param(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError({name: ["Must be a date, YYYY-MM-DD."]}) from exc


def _date_range(request) -> tuple[date | None, date | None]:
    since, until = _date_param(request, "since"), _date_param(request, "until")
    if since is not None and until is not None and since > until:
        raise ValidationError({"until": ["Must not be before since."]})
    return since, until


def _episode_param(request, patient):
    raw = request.query_params.get("episode")
    if raw is None:
        return None
    try:
        episode_id = uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({"episode": ["Must be a valid UUID."]}) from exc
    return care_selectors.patient_episode_get(patient=patient, episode_id=episode_id)


def _list_param(request, name: str, allowed) -> set[str] | None:
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    if not values:
        return None
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({name: [f"Unknown: {', '.join(unknown)}. Choose from: {', '.join(allowed)}."]})
    return set(values)


CURSOR = OpenApiParameter("cursor", str, description="The `next` link's cursor")
LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (default 50; values above 200 are capped).")
SINCE = OpenApiParameter("since", OpenApiTypes.DATE, description="From this local day (patient's zone), inclusive")
UNTIL = OpenApiParameter("until", OpenApiTypes.DATE, description="To this local day (patient's zone), inclusive")
EPISODE = OpenApiParameter("episode", OpenApiTypes.UUID, description="Only this episode of the patient")


# --- patients ------------------------------------------------------------------------------------


class CareLinkCursor(NewestFirstCursor):
    ordering = ("-consented_at", "-id")


class AccessLogCursor(NewestFirstCursor):
    ordering = ("-at", "-id")


class RedeemView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=cs.RedeemInputSerializer,
        responses={
            201: cs.CareLinkOutputSerializer,
            400: OpenApiResponse(description="No invitation has this code (`reason`: invalid)."),
            409: OpenApiResponse(description="Already used (`reason`: used), or already linked (already_linked)."),
            410: OpenApiResponse(description="The invitation has expired (`reason`: expired)."),
            429: OpenApiResponse(description="Too many attempts, by this account or on this code; see Retry-After."),
        },
        tags=["care"],
    )
    def post(self, request):
        """Give consent: link to the physiotherapist whose invitation code this is."""
        data = cs.RedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = care_services.care_invite_redeem(patient=request.user, code=data.validated_data["code"])
        return Response(cs.CareLinkOutputSerializer(link).data, status=status.HTTP_201_CREATED)


class CareLinkListView(APIView):
    permission_classes = [IsPatient]
    pagination_class = CareLinkCursor

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=CareLink.Status.values, description="Only links with this status")
        ],
        responses={200: cs.CareLinkOutputSerializer(many=True)},
        tags=["care"],
    )
    def get(self, request):
        """Who can see my data (status active), and who could."""
        qs = care_selectors.care_links_of_patient(patient=request.user)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in CareLink.Status.values:
                raise ValidationError({"status": [f"Must be one of {', '.join(CareLink.Status.values)}."]})
            qs = qs.filter(status=wanted)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(cs.CareLinkOutputSerializer(page, many=True).data)


class CareLinkRevokeView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(request=cs.EmptyInputSerializer, responses={200: cs.CareLinkOutputSerializer}, tags=["care"])
    def post(self, request, link_id: uuid.UUID):
        """Withdraw consent now: the physiotherapist sees nothing of mine from this instant."""
        cs.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        link = care_services.care_link_revoke(patient=request.user, link_id=link_id)
        return Response(cs.CareLinkOutputSerializer(link).data)


class AccessLogView(APIView):
    permission_classes = [IsPatient]
    pagination_class = AccessLogCursor

    @extend_schema(responses={200: cs.AccessLogEntrySerializer(many=True)}, tags=["care"])
    def get(self, request):
        """Who viewed my data, what and when, newest first."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(access_log_for_patient(patient=request.user), request, view=self)
        return paginator.get_paginated_response(cs.AccessLogEntrySerializer(page, many=True).data)


# --- physiotherapists ----------------------------------------------------------------------------


class PhysioAPIView(APIView):
    permission_classes = [IsPhysiotherapist]


class InviteCursor(NewestFirstCursor):
    ordering = ("-created_at", "-id")


class InviteListView(PhysioAPIView):
    pagination_class = InviteCursor

    @extend_schema(responses={200: cs.InviteOutputSerializer(many=True)}, tags=["physio"])
    def get(self, request):
        """My invitations that can still be redeemed (their codes are not stored, so not shown)."""
        paginator = self.pagination_class()
        qs = care_selectors.care_invites_outstanding(physiotherapist=request.user)
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(cs.InviteOutputSerializer(page, many=True).data)

    @extend_schema(
        request=cs.EmptyInputSerializer,
        responses={201: cs.InviteIssuedSerializer, 409: OpenApiResponse(description="Too many unused invitations.")},
        tags=["physio"],
    )
    def post(self, request):
        """A new single-use code for one patient, valid for 7 days."""
        cs.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        issued = care_services.care_invite_create(physiotherapist=request.user)
        return Response(cs.InviteIssuedSerializer(issued).data, status=status.HTTP_201_CREATED)


class TriageView(PhysioAPIView):
    @extend_schema(
        parameters=[
            CURSOR,
            LIMIT,
            OpenApiParameter("phase", str, enum=PHASES, description="Only patients in this phase"),
            OpenApiParameter(
                "reason", str, description=f"Only patients with any of these (comma-separated): {', '.join(REASONS)}"
            ),
            OpenApiParameter("search", str, description="Name or email contains"),
        ],
        responses={200: cs.TriagePageSerializer, **AUDITED},
        operation_id="physio_triage",
        tags=["physio"],
    )
    def get(self, request):
        """The triage queue: my patients, the ones who need attention first."""
        limit = _page_size(request)
        after = None
        if "cursor" in request.query_params:
            try:
                after = TriageCursor.decode(request.query_params["cursor"])
            except ValueError as exc:
                raise NotFound("Invalid cursor.") from exc
        phase = request.query_params.get("phase")
        if phase is not None and phase not in PHASES:
            raise ValidationError({"phase": [f"Must be one of {', '.join(PHASES)}."]})
        search = (request.query_params.get("search") or "").strip()[:100] or None
        page = triage_page(
            physiotherapist=request.user,
            after=after,
            limit=limit,
            phase=phase,
            reasons=_list_param(request, "reason", REASONS),
            search=search,
        )
        _audit(request, patient_ids=[row.link.patient_id for row in page.rows], action="triage")
        next_cursor = page.next.encode() if page.next else None
        results = [cs.triage_row_data(row) for row in page.rows]  # = TriageRowSerializer, built directly
        return Response({"next": _next_url(request, next_cursor), "results": results})


class PatientDetailView(PhysioAPIView):
    @extend_schema(parameters=[PATIENT_ID], responses={200: cs.PatientSummarySerializer, **AUDITED}, tags=["physio"])
    def get(self, request, patient_id: int):
        """One of my patients: who, since when, their episodes."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        episodes = list(care_selectors.patient_episodes(patient=link.patient))
        _audit(request, patient_ids=[link.patient_id], action="patient.summary")
        return Response(cs.PatientSummarySerializer({"patient": link.patient, "link": link, "episodes": episodes}).data)


class TimelineView(PhysioAPIView):
    @extend_schema(
        parameters=[
            PATIENT_ID,
            CURSOR,
            LIMIT,
            OpenApiParameter("kinds", str, description=f"Comma-separated, any of: {', '.join(TIMELINE_KINDS)}"),
            EPISODE,
            SINCE,
            UNTIL,
        ],
        responses={200: cs.TimelinePageSerializer, **AUDITED},
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """The patient's recovery, newest first: every check-in, application, rest, intake, walk, red flag,
        reminder sent and acknowledged, prescription and note."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        zone = care_selectors.patient_zone_loaded(patient=patient)
        limit = _page_size(request)
        kinds = _list_param(request, "kinds", TIMELINE_KINDS)
        since, until = _date_range(request)
        episode = _episode_param(request, patient)
        after = None
        if "cursor" in request.query_params:
            try:
                after = TimelineCursor.decode(request.query_params["cursor"])
            except ValueError as exc:
                raise NotFound("Invalid cursor.") from exc
        page = patient_timeline(
            patient=patient,
            kinds=kinds,
            episode_id=episode.pk if episode else None,
            since=local_day_bounds(day=since, zone=zone)[0] if since else None,
            until=local_day_bounds(day=until, zone=zone)[1] if until else None,
            after=after,
            limit=limit,
        )
        _audit(request, patient_ids=[patient.pk], action="patient.timeline")
        out = {
            "patient": patient.pk,
            "timezone": zone.key,
            "next": _next_url(request, page.next.encode() if page.next else None),
            "results": [cs.timeline_entry_data(entry) for entry in page.entries],  # = TimelineEntrySerializer
        }
        return Response(out)


class DailyView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID, EPISODE, SINCE, UNTIL],
        responses={200: cs.DailyOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """Per local day of an episode (default: the open one, else the latest): pain, applications, adherence."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        zone = care_selectors.patient_zone_loaded(patient=patient)
        since, until = _date_range(request)
        episode = _episode_param(request, patient) or episode_current(patient=patient)
        days = episode_daily_aggregates(episode=episode, zone=zone, since=since, until=until) if episode else []
        _audit(request, patient_ids=[patient.pk], action="patient.daily")
        out = {"patient": patient.pk, "episode": episode.pk if episode else None, "timezone": zone.key, "days": days}
        return Response(cs.DailyOutputSerializer(out).data)


class NoteCursor(NewestFirstCursor):
    ordering = ("-created_at", "-id")


class NoteListView(PhysioAPIView):
    pagination_class = NoteCursor

    @extend_schema(
        parameters=[PATIENT_ID], responses={200: cs.NoteOutputSerializer(many=True), **AUDITED}, tags=["physio"]
    )
    def get(self, request, patient_id: int):
        """The care team's notes on the patient, newest first."""
        patient = care_selectors.patient_get_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(care_selectors.care_notes_of_patient(patient=patient), request, view=self)
        _audit(request, patient_ids=[patient.pk], action="patient.notes")
        return paginator.get_paginated_response(cs.NoteOutputSerializer(page, many=True).data)

    @extend_schema(
        parameters=[PATIENT_ID],
        request=cs.NoteInputSerializer,
        responses={201: cs.NoteOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """Write a note on the patient (optionally about one episode)."""
        data = cs.NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            note = care_services.care_note_create(
                physiotherapist=request.user,
                patient_id=patient_id,
                text=data.validated_data["text"],
                episode_id=data.validated_data.get("episode"),
            )
            _audit(request, patient_ids=[note.patient_id], action="patient.note_written")
        return Response(cs.NoteOutputSerializer(note).data, status=status.HTTP_201_CREATED)


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
        episode = _episode_param(request, patient) or episode_current(patient=patient)
        if episode is None:
            raise NotFound("The patient has no episode yet.")
        overview = treatment_selectors.episode_protocol_overview(episode=episode)
        _audit(request, patient_ids=[patient.pk], action="patient.protocol")
        return Response(ts.EpisodeProtocolSerializer(overview).data)

    @extend_schema(
        parameters=[PATIENT_ID],
        request=cs.PrescriptionInputSerializer,
        responses={
            201: ts.EpisodeProtocolSerializer,
            409: OpenApiResponse(description="No open episode, or the episode named is resolved."),
            **AUDITED,
        },
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """Prescribe protocol values for the patient's episode, inside the hard safety bounds."""
        data = cs.PrescriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        with transaction.atomic():
            prescription = care_services.care_prescription_create(
                physiotherapist=request.user,
                patient_id=patient_id,
                overrides=v["overrides"],
                note=v["note"],
                episode_id=v.get("episode"),
            )
            overview = treatment_selectors.episode_protocol_overview(episode=prescription.episode)
            _audit(request, patient_ids=[prescription.episode.patient_id], action="patient.prescribed")
        return Response(ts.EpisodeProtocolSerializer(overview).data, status=status.HTTP_201_CREATED)


class ReviewedView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID],
        request=cs.EmptyInputSerializer,
        responses={200: cs.ReviewedOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """Mark the patient reviewed now: their red flags reported until now stop counting as open."""
        cs.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        with transaction.atomic():
            link = care_services.care_patient_mark_reviewed(physiotherapist=request.user, patient_id=patient_id)
            _audit(request, patient_ids=[link.patient_id], action="patient.reviewed")
        return Response(cs.ReviewedOutputSerializer(link).data)


class DischargeView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID],
        request=cs.EmptyInputSerializer,
        responses={200: cs.DischargedOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """End the care: the patient's data is no longer visible to me."""
        cs.EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        with transaction.atomic():
            link = care_services.care_link_discharge(physiotherapist=request.user, patient_id=patient_id)
            _audit(request, patient_ids=[link.patient_id], action="patient.discharged")
        return Response(cs.DischargedOutputSerializer(link).data)
