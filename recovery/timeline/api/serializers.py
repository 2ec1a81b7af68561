"""Output of the exports: the patient's own data as JSON (the same shapes as the API's), and the FHIR
Bundle's outline for the schema (the bundle itself is built in recovery.timeline.export)."""

from rest_framework import serializers

from backcare.accounts.api.serializers import UserOutputSerializer
from backcare.push.api.serializers import DeviceOutputSerializer
from content.models import RedFlagLevel
from recovery.care.api import serializers as cs
from recovery.episodes.api.serializers import CheckInOutputSerializer, EpisodeOutputSerializer
from recovery.reminders.api.views import ReminderOutputSerializer
from recovery.treatment.api import serializers as ts


class ExportProfileSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    sleep_start = serializers.TimeField()
    sleep_end = serializers.TimeField()
    desk_worker = serializers.BooleanField()
    notify_treatment = serializers.BooleanField()
    notify_checkin = serializers.BooleanField()
    notify_movement = serializers.BooleanField()
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
    devices = DeviceOutputSerializer(many=True)
    care_links = cs.CareLinkOutputSerializer(many=True, help_text="Who could and can see my data")
    care_notes = cs.NoteOutputSerializer(many=True, help_text="My care team's notes on me")
    access_log = cs.AccessLogEntrySerializer(many=True, help_text="Who viewed my data, and when")


# --- the FHIR bundle, for the schema only -------------------------------------------------------------


class FhirEntrySerializer(serializers.Serializer):
    fullUrl = serializers.CharField(help_text="urn:uuid:<id>")  # noqa: N815 (FHIR's name)
    resource = serializers.DictField(
        help_text="Patient, EpisodeOfCare, Observation (pain, LOINC 72514-3), Procedure (ice or heat), "
        "MedicationStatement or Flag (red flag)"
    )


class FhirBundleSerializer(serializers.Serializer):
    """A FHIR R4 Bundle of type collection (application/fhir+json)."""

    resourceType = serializers.ChoiceField(choices=["Bundle"])  # noqa: N815
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["collection"])
    timestamp = serializers.CharField(help_text="When the bundle was made, with the patient's UTC offset")
    entry = FhirEntrySerializer(many=True)
