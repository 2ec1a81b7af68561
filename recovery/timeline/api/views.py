"""Downloads: a FHIR R4 Bundle of an episode and the timeline as CSV, for the linked physiotherapist (through
the one visibility rule, written to the access log before answering) and for the patient about
themself; and the patient's whole record as JSON.

A download answers its own media type (application/fhir+json, text/csv); every error answers JSON, like
the rest of the API, whatever the request's Accept header asked for.
"""

import json
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.accounts.models import User
from backcare.core.permissions import IsPatient, IsPhysiotherapist
from recovery.api.common import (
    AUDITED,
    CURSOR,
    EPISODE,
    LIMIT,
    PATIENT_ID,
    SINCE,
    UNTIL,
    PhysioAPIView,
    audit_read,
    date_range,
    episode_param,
    list_param,
    next_url,
    page_size,
)
from recovery.care import selectors as care_selectors
from recovery.episodes.models import Episode
from recovery.episodes.selectors import patient_zone
from recovery.timeline.api import serializers as s
from recovery.timeline.export import (
    CSV_CONTENT_TYPE,
    FHIR_CONTENT_TYPE,
    episode_fhir_bundle,
    timeline_csv,
)
from recovery.timeline.selectors import (
    TIMELINE_KINDS,
    TimelineCursor,
    episode_current,
    episode_daily_aggregates,
    local_day_bounds,
    patient_timeline,
)


class _AcceptOnly(BaseRenderer):
    """Lets a client ask for the download's media type in Accept; the download itself is written by the view."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - never chosen
        return json.dumps(data).encode()


class FhirAccept(_AcceptOnly):
    media_type = FHIR_CONTENT_TYPE
    format = "fhir"


class CsvAccept(_AcceptOnly):
    media_type = "text/csv"
    format = "csv"


class _AcceptHeaderOnly(DefaultContentNegotiation):
    """Negotiates on the Accept header alone: no ?format= (an unknown one would be a 404 of DRF's)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


NO_FORMAT = OpenApiParameter("format", exclude=True)


class DownloadView(APIView):
    """JSON for errors whatever Accept said; the download's own media type for the answer."""

    content_negotiation_class = _AcceptHeaderOnly

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and not isinstance(response.accepted_renderer, JSONRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


def _download(body: str | bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # health data: never kept by a shared cache
    return response


def _stamp(now: datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).strftime("%Y%m%d")


def _episode_for(request, patient: User) -> Episode:
    episode = episode_param(request, patient) or episode_current(patient=patient)
    if episode is None:
        raise NotFound("The patient has no episode yet.")
    return episode


def _fhir_response(*, patient: User, episode: Episode, zone: ZoneInfo) -> HttpResponse:
    bundle = episode_fhir_bundle(patient=patient, episode=episode, zone=zone)
    stamp = bundle["timestamp"][:10].replace("-", "")
    return _download(
        json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode(),
        content_type=FHIR_CONTENT_TYPE,
        filename=f"backcare-{patient.pk}-episode-{str(episode.pk)[:8]}-{stamp}.fhir.json",
    )


def _csv_response(request, *, patient: User, zone: ZoneInfo) -> HttpResponse:
    kinds = list_param(request, "kinds", TIMELINE_KINDS)
    since, until = date_range(request)
    episode = episode_param(request, patient)
    text = timeline_csv(
        patient=patient,
        zone=zone,
        kinds=kinds,
        episode_id=episode.pk if episode else None,
        since=local_day_bounds(day=since, zone=zone)[0] if since else None,
        until=local_day_bounds(day=until, zone=zone)[1] if until else None,
    )
    return _download(
        text.encode(),
        content_type=CSV_CONTENT_TYPE,
        filename=f"backcare-{patient.pk}-timeline-{_stamp(timezone.now(), zone)}.csv",
    )


FHIR_OK = {(200, FHIR_CONTENT_TYPE): s.FhirBundleSerializer}
CSV_OK = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The timeline as CSV (header row first)")}
NO_EPISODE = {404: OpenApiResponse(description="No such patient, or the patient has no episode yet.")}
KINDS = OpenApiParameter("kinds", str, description=f"Comma-separated, any of: {', '.join(TIMELINE_KINDS)}")
CSV_DESCRIPTION = (
    "One row per timeline event, newest first. Instants are ISO 8601 in the patient's zone with their UTC "
    "offset; a zero is 0 and false is false, an empty cell means the event has no such value."
)
FHIR_DESCRIPTION = (
    "A FHIR R4 Bundle (collection) of one episode (default: the open one, else the latest): Patient, "
    "EpisodeOfCare, pain Observations (LOINC 72514-3, valueInteger), ice and heat Procedures "
    "(performedPeriod), MedicationStatements and red flags as Flags."
)


# --- the physiotherapist ---------------------------------------------------------------------------


class PhysioFhirExportView(DownloadView):
    permission_classes = [IsPhysiotherapist]
    renderer_classes = [JSONRenderer, FhirAccept]

    @extend_schema(
        parameters=[PATIENT_ID, EPISODE, NO_FORMAT],
        responses={**FHIR_OK, **NO_EPISODE, **AUDITED},
        description=FHIR_DESCRIPTION,
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """One of my patients' episode as a FHIR R4 Bundle."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        episode = _episode_for(request, patient)
        response = _fhir_response(
            patient=patient, episode=episode, zone=care_selectors.patient_zone_loaded(patient=patient)
        )
        audit_read(request, patient_ids=[patient.pk], action="patient.export.fhir")
        return response


class PhysioCsvExportView(DownloadView):
    permission_classes = [IsPhysiotherapist]
    renderer_classes = [JSONRenderer, CsvAccept]

    @extend_schema(
        parameters=[PATIENT_ID, KINDS, EPISODE, SINCE, UNTIL, NO_FORMAT],
        responses={**CSV_OK, **AUDITED},
        operation_id="physio_patient_export_timeline_csv",
        description=CSV_DESCRIPTION,
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """One of my patients' timeline as CSV."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        response = _csv_response(request, patient=patient, zone=care_selectors.patient_zone_loaded(patient=patient))
        audit_read(request, patient_ids=[patient.pk], action="patient.export.csv")
        return response


# --- the patient, about themself --------------------------------------------------------------------


class MyFhirExportView(DownloadView):
    permission_classes = [IsPatient]
    renderer_classes = [JSONRenderer, FhirAccept]

    @extend_schema(
        parameters=[EPISODE, NO_FORMAT],
        responses={
            **FHIR_OK,
            404: OpenApiResponse(description="I have no episode yet."),
        },
        description=FHIR_DESCRIPTION,
        tags=["export"],
    )
    def get(self, request):
        """One of my episodes as a FHIR R4 Bundle."""
        episode = _episode_for(request, request.user)
        return _fhir_response(patient=request.user, episode=episode, zone=patient_zone(patient=request.user))


class MyCsvExportView(DownloadView):
    permission_classes = [IsPatient]
    renderer_classes = [JSONRenderer, CsvAccept]

    @extend_schema(
        parameters=[KINDS, EPISODE, SINCE, UNTIL, NO_FORMAT],
        responses=CSV_OK,
        description=CSV_DESCRIPTION,
        operation_id="me_export_timeline_csv",
        tags=["export"],
    )
    def get(self, request):
        """My timeline as CSV."""
        return _csv_response(request, patient=request.user, zone=patient_zone(patient=request.user))


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
        responses={200: s.TimelinePageSerializer, **AUDITED},
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """The patient's recovery, newest first: every check-in, application, rest, intake, walk, red flag,
        reminder sent and acknowledged, prescription and note."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        zone = care_selectors.patient_zone_loaded(patient=patient)
        limit = page_size(request)
        kinds = list_param(request, "kinds", TIMELINE_KINDS)
        since, until = date_range(request)
        episode = episode_param(request, patient)
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
        audit_read(request, patient_ids=[patient.pk], action="patient.timeline")
        out = {
            "patient": patient.pk,
            "timezone": zone.key,
            "next": next_url(request, page.next.encode() if page.next else None),
            "results": [s.timeline_entry_data(entry) for entry in page.entries],  # = TimelineEntrySerializer
        }
        return Response(out)


class DailyView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID, EPISODE, SINCE, UNTIL],
        responses={200: s.DailyOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def get(self, request, patient_id: int):
        """Per local day of an episode (default: the open one, else the latest): pain, applications, adherence."""
        link = care_selectors.care_link_for_physiotherapist(physiotherapist=request.user, patient_id=patient_id)
        patient = link.patient
        zone = care_selectors.patient_zone_loaded(patient=patient)
        since, until = date_range(request)
        episode = episode_param(request, patient) or episode_current(patient=patient)
        days = episode_daily_aggregates(episode=episode, zone=zone, since=since, until=until) if episode else []
        audit_read(request, patient_ids=[patient.pk], action="patient.daily")
        out = {"patient": patient.pk, "episode": episode.pk if episode else None, "timezone": zone.key, "days": days}
        return Response(s.DailyOutputSerializer(out).data)
