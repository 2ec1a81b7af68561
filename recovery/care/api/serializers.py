from rest_framework import serializers

from backcare.core.api import FilterSerializer, StrictSerializer
from recovery.api.common import QueryChoiceField
from recovery.api.shapes import EpisodeBriefSerializer, PersonSerializer, PhysioLinkSerializer
from recovery.care.models import CareLink

# --- input -----------------------------------------------------------------------------------------


class RedeemInputSerializer(StrictSerializer):
    code = serializers.CharField(
        max_length=32, help_text="The invitation code, e.g. ABCDE-FGHJK (case, spaces and dashes do not matter)."
    )


class NoteInputSerializer(StrictSerializer):
    text = serializers.CharField(max_length=4000)
    episode = serializers.UUIDField(required=False, help_text="The episode the note is about, if one.")


class CareLinkFilter(FilterSerializer):
    status = QueryChoiceField(choices=CareLink.Status.values, required=False)


# --- output, patient side --------------------------------------------------------------------------


class CareLinkOutputSerializer(serializers.Serializer):
    """A link as its patient sees it: who, since when, and whether it still lets them read."""

    id = serializers.UUIDField()
    physiotherapist = PersonSerializer()
    status = serializers.ChoiceField(choices=CareLink.Status.choices)
    consented_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class AccessLogEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    who = serializers.CharField(source="actor_label", help_text="The physiotherapist's name at the time")
    action = serializers.CharField(help_text="What was read, e.g. patient.timeline")
    request_id = serializers.CharField()


# --- output, physiotherapist side ------------------------------------------------------------------


class InviteIssuedSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="invite.id")
    code = serializers.CharField(help_text="Shown once: give it to the patient. Single use.")
    created_at = serializers.DateTimeField(source="invite.created_at")
    expires_at = serializers.DateTimeField(source="invite.expires_at")


class InviteOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class PatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    timezone = serializers.SerializerMethodField()

    def get_timezone(self, obj) -> str:
        profile = getattr(obj, "profile", None)
        return profile.timezone if profile else "UTC"


class PatientSummarySerializer(serializers.Serializer):
    patient = PatientSerializer()
    link = PhysioLinkSerializer()
    episodes = EpisodeBriefSerializer(many=True, help_text="Newest first")


class NoteOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    episode = serializers.UUIDField(source="episode_id", allow_null=True)
    text = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_author(self, obj) -> str | None:
        return (obj.author.display_name or obj.author.email) if obj.author else None


class ReviewedOutputSerializer(serializers.Serializer):
    patient = serializers.IntegerField(source="patient_id")
    last_reviewed_at = serializers.DateTimeField()


class DischargedOutputSerializer(serializers.Serializer):
    patient = serializers.IntegerField(source="patient_id")
    link = serializers.UUIDField(source="id")
    status = serializers.ChoiceField(choices=CareLink.Status.choices)
    ended_at = serializers.DateTimeField()


# --- the two hot answers, built directly ------------------------------------------------------------
# DRF serializers cost about 0.5 ms per triage row; the queue and the timeline build the same JSON by hand.
# The serializers above still describe it (OpenAPI), and tests/care/test_export.py checks that both agree.
