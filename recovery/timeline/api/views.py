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
from recovery.care import selectors as care_selectors
from recovery.care.api.views import (
    AUDITED,
    EPISODE,
    PATIENT_ID,
    SINCE,
    UNTIL,
    _audit,
    _date_range,
    _episode_param,
    _list_param,
)
from recovery.episodes.models import Episode
from recovery.episodes.selectors import patient_zone
from recovery.timeline.api import serializers as es
from recovery.timeline.export import (
    CSV_CONTENT_TYPE,
    FHIR_CONTENT_TYPE,
    episode_fhir_bundle,
    patient_data_for_export,
    timeline_csv,
)
from recovery.timeline.selectors import TIMELINE_KINDS, episode_current, local_day_bounds


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
    episode = _episode_param(request, patient) or episode_current(patient=patient)
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
    kinds = _list_param(request, "kinds", TIMELINE_KINDS)
    since, until = _date_range(request)
    episode = _episode_param(request, patient)
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


FHIR_OK = {(200, FHIR_CONTENT_TYPE): es.FhirBundleSerializer}
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
        _audit(request, patient_ids=[patient.pk], action="patient.export.fhir")
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
        _audit(request, patient_ids=[patient.pk], action="patient.export.csv")
        return response


# --- the patient, about themself --------------------------------------------------------------------


class MyExportView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(responses={200: es.PatientDataExportSerializer}, tags=["export"])
    def get(self, request):
        """Everything stored about me, as JSON: account, profile, episodes, check-ins, red flags, ice and heat,
        rest, medication, walks, prescriptions, reminders, devices, care links, notes and who viewed my data."""
        data = es.PatientDataExportSerializer(patient_data_for_export(patient=request.user)).data
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="backcare-{request.user.pk}-my-data.json"'
        response["Cache-Control"] = "no-store"
        return response


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
