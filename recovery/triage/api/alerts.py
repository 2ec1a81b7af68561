"""The physiotherapist's red-flag alerts: the open ones (and those acknowledged in the last day), and
acknowledging one. Only alerts of patients linked to the caller; every answer is written to the access log."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from recovery.api.common import AUDITED, PhysioAPIView, access_context, audit_read
from recovery.api.shapes import EmptyInputSerializer
from recovery.triage import alerts
from recovery.triage.models import ClinicianAlert


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.display_name")
    episode = serializers.UUIDField(source="episode_id")
    severity = serializers.ChoiceField(choices=ClinicianAlert.Severity.choices)
    code = serializers.CharField(
        source="redflag_event.code", help_text="The red flag answered (in the app, not in the push)"
    )
    question = serializers.CharField(source="redflag_event.question")
    raised_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.display_name", allow_null=True, default=None)


class AlertListView(PhysioAPIView):
    @extend_schema(responses={200: AlertOutputSerializer(many=True), **AUDITED}, tags=["physio"])
    def get(self, request):
        """Red-flag alerts of my patients: open ones first (emergency first), then those acknowledged today."""
        rows = alerts.clinician_alerts_for(physiotherapist=request.user)
        audit_read(request, patient_ids=sorted({a.patient_id for a in rows}), action="alerts")
        return Response(AlertOutputSerializer(rows, many=True).data)


class AlertAcknowledgeView(PhysioAPIView):
    @extend_schema(
        request=EmptyInputSerializer,
        responses={
            200: AlertOutputSerializer,
            404: OpenApiResponse(description="No such alert of my patients."),
            **AUDITED,
        },
        tags=["physio"],
    )
    def post(self, request, alert_id: int):
        """I take the alert on: its re-alerts stop, for every physiotherapist; the others see who and when."""
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        alert = alerts.clinician_alert_acknowledge(
            physiotherapist=request.user, alert_id=alert_id, access=access_context(request)
        )
        return Response(AlertOutputSerializer(alert).data)
