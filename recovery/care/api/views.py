"""The care team's endpoints.

Patients: redeem an invitation (consent), list who can see their data, revoke a link, read who viewed
their data. Physiotherapists: invite, the triage queue, one patient's summary, timeline, daily
aggregates, notes and protocol, mark reviewed, discharge.

Every physiotherapist endpoint about patients reaches them only through recovery.care.selectors (the
one visibility rule), and writes what it shows to the access log in the same request before answering:
if the log cannot be written, the answer is 503 and carries no data.
"""

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.audit.selectors import access_log_for_patient
from backcare.core.pagination import NewestFirstCursor
from backcare.core.permissions import IsPatient
from recovery.api.common import AUDITED, PATIENT_ID, PhysioAPIView, access_context
from recovery.api.shapes import EmptyInputSerializer
from recovery.care import selectors as care_selectors
from recovery.care import services as care_services
from recovery.care.api import serializers as cs
from recovery.care.models import CareLink

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
        filters = cs.CareLinkFilter.parse(request)
        qs = care_selectors.care_links_of_patient(patient=request.user, status=filters.get("status"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(cs.CareLinkOutputSerializer(page, many=True).data)


class CareLinkRevokeView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(request=EmptyInputSerializer, responses={200: cs.CareLinkOutputSerializer}, tags=["care"])
    def post(self, request, link_id: uuid.UUID):
        """Withdraw consent now: the physiotherapist sees nothing of mine from this instant."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
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
        request=EmptyInputSerializer,
        responses={201: cs.InviteIssuedSerializer, 409: OpenApiResponse(description="Too many unused invitations.")},
        tags=["physio"],
    )
    def post(self, request):
        """A new single-use code for one patient, valid for 7 days."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        issued = care_services.care_invite_create(physiotherapist=request.user)
        return Response(cs.InviteIssuedSerializer(issued).data, status=status.HTTP_201_CREATED)


class PatientDetailView(PhysioAPIView):
    @extend_schema(parameters=[PATIENT_ID], responses={200: cs.PatientSummarySerializer, **AUDITED}, tags=["physio"])
    def get(self, request, patient_id: int):
        """One of my patients: who, since when, their episodes."""
        summary = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.summary",
            access=access_context(request),
            read=lambda link: care_selectors.care_patient_summary(link=link),
        )
        return Response(cs.PatientSummarySerializer(summary).data)


class NoteCursor(NewestFirstCursor):
    ordering = ("-created_at", "-id")


class NoteListView(PhysioAPIView):
    pagination_class = NoteCursor

    @extend_schema(
        parameters=[PATIENT_ID], responses={200: cs.NoteOutputSerializer(many=True), **AUDITED}, tags=["physio"]
    )
    def get(self, request, patient_id: int):
        """The care team's notes on the patient, newest first."""
        paginator = self.pagination_class()
        page = care_services.care_patient_read(
            physiotherapist=request.user,
            patient_id=patient_id,
            action="patient.notes",
            access=access_context(request),
            read=lambda link: paginator.paginate_queryset(
                care_selectors.care_notes_of_patient(patient=link.patient), request, view=self
            ),
        )
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
        note = care_services.care_note_create(
            physiotherapist=request.user,
            patient_id=patient_id,
            text=data.validated_data["text"],
            episode_id=data.validated_data.get("episode"),
            access=access_context(request),
        )
        return Response(cs.NoteOutputSerializer(note).data, status=status.HTTP_201_CREATED)


class ReviewedView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID],
        request=EmptyInputSerializer,
        responses={200: cs.ReviewedOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """Mark the patient reviewed now: their red flags reported until now stop counting as open."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        link = care_services.care_patient_mark_reviewed(
            physiotherapist=request.user, patient_id=patient_id, access=access_context(request)
        )
        return Response(cs.ReviewedOutputSerializer(link).data)


class DischargeView(PhysioAPIView):
    @extend_schema(
        parameters=[PATIENT_ID],
        request=EmptyInputSerializer,
        responses={200: cs.DischargedOutputSerializer, **AUDITED},
        tags=["physio"],
    )
    def post(self, request, patient_id: int):
        """End the care: the patient's data is no longer visible to me."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        link = care_services.care_link_discharge(
            physiotherapist=request.user, patient_id=patient_id, access=access_context(request)
        )
        return Response(cs.DischargedOutputSerializer(link).data)
