from rest_framework import serializers

from backcare.core.api import FilterSerializer, StrictSerializer
from recovery.reminders.models import Reminder


class ReminderFilterSerializer(FilterSerializer):
    episode = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(
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
