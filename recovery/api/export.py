"""GET /api/me/export/: everything stored about the caller, as one JSON document (the right of access)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from backcare.accounts.api.serializers import UserOutputSerializer
from backcare.push.api.serializers import DeviceOutputSerializer
from content.models import RedFlagLevel
from recovery.api.common import PatientAPIView
from recovery.care.api import serializers as cs
from recovery.episodes.api.serializers import CheckInOutputSerializer, EpisodeOutputSerializer
from recovery.outcomes.api.serializers import ResponseOutputSerializer
from recovery.reminders.api.serializers import ReminderOutputSerializer
from recovery.timeline.export import patient_data_for_export
from recovery.treatment.api import serializers as ts


class ExportProfileSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    sleep_start = serializers.TimeField()
    sleep_end = serializers.TimeField()
    desk_worker = serializers.BooleanField()
    notify_treatment = serializers.BooleanField()
    notify_checkin = serializers.BooleanField()
    notify_movement = serializers.BooleanField()
    heat_reminders_per_day = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()


class ExportRedFlagSerializer(serializers.Serializer):
    episode = serializers.UUIDField(source="episode_id")
    checkin = serializers.UUIDField(source="checkin.client_uuid")
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=RedFlagLevel.choices)
    question = serializers.CharField()
    guidance = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class ExportPrescriptionSerializer(serializers.Serializer):
    episode = serializers.UUIDField(source="episode_id")
    overrides = serializers.DictField()
    note = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_author(self, obj) -> str | None:
        author = obj.created_by
        return (author.display_name or author.email) if author else None


class PatientDataExportSerializer(serializers.Serializer):
    """Everything stored about the caller, oldest first in every list."""

    exported_at = serializers.DateTimeField()
    timezone = serializers.CharField(help_text="The patient's IANA zone")
    account = UserOutputSerializer()
    profile = ExportProfileSerializer(allow_null=True)
    episodes = EpisodeOutputSerializer(many=True)
    checkins = CheckInOutputSerializer(many=True)
    red_flags = ExportRedFlagSerializer(many=True)
    applications = ts.ApplicationOutputSerializer(many=True)
    rest = ts.RestOutputSerializer(many=True)
    medications = ts.MedicationOutputSerializer(many=True)
    activities = ts.ActivityOutputSerializer(many=True)
    prescriptions = ExportPrescriptionSerializer(many=True)
    reminders = ReminderOutputSerializer(many=True)
    questionnaire_responses = ResponseOutputSerializer(many=True, help_text="My answers and their scores")
    devices = DeviceOutputSerializer(many=True)
    care_links = cs.CareLinkOutputSerializer(many=True, help_text="Who could and can see my data")
    care_notes = cs.NoteOutputSerializer(many=True, help_text="My care team's notes on me")
    access_log = cs.AccessLogEntrySerializer(many=True, help_text="Who viewed my data, and when")


class MyExportView(PatientAPIView):
    @extend_schema(responses={200: PatientDataExportSerializer}, tags=["export"])
    def get(self, request):
        """Everything stored about me, as JSON: account, profile, episodes, check-ins, red flags, ice and heat,
        rest, medication, walks, prescriptions, reminders, questionnaires, devices, care links, notes and who viewed my data."""
        data = PatientDataExportSerializer(patient_data_for_export(patient=request.user)).data
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="backcare-{request.user.pk}-my-data.json"'
        response["Cache-Control"] = "no-store"
        return response
