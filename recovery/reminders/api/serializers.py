from rest_framework import serializers

from backcare.core.api import FilterSerializer, StrictSerializer
from recovery.reminders.models import Reminder


class _BlankIsAValue:
    """`?status=` is refused (400), as before, instead of read as absent the way DRF reads a blank form field."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, serializers.empty)


class _UUIDParameter(_BlankIsAValue, serializers.UUIDField):
    pass


class _ChoiceParameter(_BlankIsAValue, serializers.ChoiceField):
    pass


class ReminderFilterSerializer(FilterSerializer):
    episode = _UUIDParameter(required=False)
    status = _ChoiceParameter(
        choices=Reminder.Status.choices,
        required=False,
        error_messages={"invalid_choice": f"Must be one of {', '.join(Reminder.Status.values)}."},
    )


class ReminderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    episode = serializers.UUIDField(source="episode_id")
    kind = serializers.CharField()
    slot = serializers.CharField()
    due_at = serializers.DateTimeField()
    safety = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Reminder.Status.choices)
    sent_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    ack_action = serializers.CharField()


class AckInputSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=Reminder.Action.choices)


class TokenAckInputSerializer(StrictSerializer):
    reminder = serializers.IntegerField(min_value=1)
    action = serializers.ChoiceField(choices=Reminder.Action.choices)
    token = serializers.CharField(max_length=500)
