from django.utils import timezone
from rest_framework import serializers

from backcare.core.api import StrictSerializer
from recovery.care.models import CareLink
from recovery.episodes.models import Episode


class EmptyInputSerializer(StrictSerializer):
    """No fields: the action is the whole request."""


class PersonSerializer(serializers.Serializer):
    display_name = serializers.CharField()


class PhysioLinkSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    consented_at = serializers.DateTimeField()
    last_reviewed_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=CareLink.Status.choices)
    ended_at = serializers.DateTimeField(allow_null=True)


class EpisodeBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    onset = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Episode.Status.choices)
    resolved_at = serializers.DateTimeField(allow_null=True)


def drf_instant(value) -> str | None:
    """As DRF's DateTimeField writes it: in the current zone (UTC), ISO 8601, "Z" for +00:00."""
    if not value:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
