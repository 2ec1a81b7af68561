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


RESULTS = ["started", "already_started", "stopped", "already_stopped", "snoozed", "skipped", "done"]


class AckResultSerializer(ReminderOutputSerializer):
    result = serializers.ChoiceField(
        choices=RESULTS,
        help_text="What the answer did: started (an application now runs), already_started (this reminder's "
        "application, or one of the same kind started since its time, runs already: nothing new), stopped, "
        "already_stopped, snoozed (10 min), skipped, done.",
    )


class TokenAckOutputSerializer(serializers.Serializer):
    """All the token's answer says: the result, nothing about the patient."""

    status = serializers.CharField(help_text="ok")
    result = serializers.ChoiceField(choices=RESULTS)


class ReminderActionSerializer(serializers.Serializer):
    action = serializers.CharField()
    title = serializers.CharField()


class ReminderDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    due_at = serializers.DateTimeField()
    safety = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Reminder.Status.choices)
    state = serializers.ChoiceField(
        choices=["due", "done", "too_late", "closed"],
        help_text="due: the actions work now; done: answered, or what it asks has happened; too_late: past its "
        "freshness window; closed: no longer planned.",
    )
    fresh_until = serializers.DateTimeField(allow_null=True, help_text="null: a safety reminder, never too late")
    actions = ReminderActionSerializer(many=True, help_text="The one-tap answers that work now")
    url = serializers.CharField()


class AckInputSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=Reminder.Action.choices)


class TokenAckInputSerializer(StrictSerializer):
    reminder = serializers.IntegerField(min_value=1)
    action = serializers.ChoiceField(choices=Reminder.Action.choices)
    token = serializers.CharField(max_length=500)
