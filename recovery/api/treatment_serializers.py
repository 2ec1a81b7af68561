from rest_framework import serializers

from backcare.core.api import AwareDateTimeField, StrictSerializer
from recovery.models import ApplicationKind


class ApplicationPutSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ApplicationKind.choices)
    started_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    stopped_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    episode = serializers.UUIDField(required=False, help_text="Defaults to the episode at started_at.")


class ApplicationStopSerializer(StrictSerializer):
    stopped_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="Defaults to now.")


class ApplicationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    episode = serializers.UUIDField(source="episode_id")
    kind = serializers.ChoiceField(choices=ApplicationKind.choices)
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    auto_closed = serializers.BooleanField(help_text="Closed by the server at the maximum on-time")


class AllowedSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reason = serializers.CharField()
    allowed_from = serializers.DateTimeField(allow_null=True)


class AllowedByKindSerializer(serializers.Serializer):
    ice = AllowedSerializer()
    heat = AllowedSerializer()


class PlannedReminderSerializer(serializers.Serializer):
    kind = serializers.CharField()
    due = serializers.DateTimeField()
    slot = serializers.CharField()
    safety = serializers.BooleanField()


class NoticeSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=["info", "caution", "alert"])
    message = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)


class RunningSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    started_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()


class RestSummarySerializer(serializers.Serializer):
    total_minutes = serializers.IntegerField()
    resting_since = serializers.DateTimeField(allow_null=True)
    nudge_hours = serializers.IntegerField()
    cap_hours = serializers.IntegerField()


class EpisodeStateSerializer(serializers.Serializer):
    episode = serializers.UUIDField()
    now = serializers.DateTimeField()
    phase = serializers.ChoiceField(choices=["acute", "heat", "resolved"])
    day = serializers.IntegerField(help_text="Day of recovery, 1 on the local day of onset")
    acute_ends_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["idle", "ice_on", "heat_on", "pausing"])
    running = RunningSerializer(allow_null=True)
    pause_until = serializers.DateTimeField(allow_null=True)
    allowed = AllowedByKindSerializer()
    next_action = PlannedReminderSerializer(allow_null=True)
    reminders = PlannedReminderSerializer(many=True)
    warnings = NoticeSerializer(many=True)
    rest = RestSummarySerializer()
    nsaid_days = serializers.IntegerField()
    ready_to_run = serializers.BooleanField()
    protocol = serializers.DictField(help_text="The effective protocol: version defaults plus prescription")
