"""Downloads: a FHIR R4 Bundle of an episode and the timeline as CSV, for the linked physiotherapist (through
the one visibility rule, written to the access log before answering) and for the patient about
themself; and the patient's whole record as JSON.

A download answers its own media type (application/fhir+json, text/csv); every error answers JSON, like
the rest of the API, whatever the request's Accept header asked for.
"""

import json
from types import SimpleNamespace

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.permissions import IsPatient, IsPhysiotherapist
from recovery.api.common import (
    AUDITED,
    CURSOR,
    EPISODE,
    LIMIT,
    PATIENT_ID,
    SINCE,
    UNTIL,
    EpisodeFilter,
    PhysioAPIView,
    access_context,
    next_url,
    page_size,
)
from recovery.care import services as care_services
from recovery.timeline import selectors
from recovery.timeline.api import serializers as s
from recovery.timeline.csv import patient_csv_download
from recovery.timeline.export import Download
from recovery.timeline.fhir import FHIR_CONTENT_TYPE, patient_fhir_download
from recovery.timeline.selectors import TIMELINE_KINDS


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


def _download(download: Download) -> HttpResponse:
    response = HttpResponse(download.body, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["Cache-Control"] = "no-store"  # health data: never kept by a shared cache
    return response


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
        filters = EpisodeFilter.parse(request)
        download = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.export.fhir",
            access=access_context(request),
            read=lambda link: patient_fhir_download(patient=link.patient, **filters),
        )
        return _download(download)


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
        filters = s.TimelineCsvFilter.parse(request)
        download = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.export.csv",
            access=access_context(request),
            read=lambda link: patient_csv_download(patient=link.patient, **filters),
        )
        return _download(download)


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
        return _download(patient_fhir_download(patient=request.user, **EpisodeFilter.parse(request)))


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
        return _download(patient_csv_download(patient=request.user, **s.TimelineCsvFilter.parse(request)))


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
        limit = page_size(request)
        filters = s.TimelineFilter.parse(request)
        timeline = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.timeline",
            access=access_context(request),
            read=lambda link: selectors.patient_timeline_page(patient=link.patient, limit=limit, **filters),
        )
        page = timeline.page
        out = {
            "patient": timeline.patient_id,
            "timezone": timeline.zone.key,
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
        filters = s.DailyFilter.parse(request)
        daily = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.daily",
            access=access_context(request),
            read=lambda link: selectors.patient_daily(patient=link.patient, **filters),
        )
        return Response(s.DailyOutputSerializer(daily).data)
