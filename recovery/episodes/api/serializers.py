from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backcare.core.api import AwareDateTimeField, StrictSerializer
from recovery.episodes.models import Episode, SleepQuality, SpasmFrequency, Trigger
from recovery.episodes.selectors import checkin_escalation


class EpisodeOpenInputSerializer(StrictSerializer):
    onset = AwareDateTimeField(help_text="When the spasm started, with a UTC offset.")
    trigger = serializers.ChoiceField(choices=Trigger.choices, required=False, default=Trigger.UNKNOWN)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    client_uuid = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Set by offline clients: a replay returns the same episode.",
    )


class EpisodeResolveInputSerializer(StrictSerializer):
    resolved_at = AwareDateTimeField(required=False, allow_null=True, default=None)


class EpisodeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    onset = serializers.DateTimeField()
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    notes = serializers.CharField()
    status = serializers.ChoiceField(choices=Episode.Status.choices)
    resolved_at = serializers.DateTimeField(allow_null=True)
    paused_since = serializers.DateTimeField(
        allow_null=True, help_text="Self-care paused after an emergency answer, until resumed or resolved"
    )
    client_uuid = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


class CheckInInputSerializer(StrictSerializer):
    occurred_at = AwareDateTimeField(required=False, help_text="When this was true; defaults to now.")
    episode = serializers.UUIDField(required=False, help_text="Defaults to the episode open at occurred_at.")
    pain = serializers.IntegerField(min_value=0, max_value=10, help_text="0 no pain ... 10 worst imaginable")
    spasm_frequency = serializers.ChoiceField(choices=SpasmFrequency.choices, required=False)
    stiffness = serializers.IntegerField(min_value=0, max_value=10, required=False, allow_null=True)
    sleep_quality = serializers.ChoiceField(choices=SleepQuality.choices, required=False)
    water_glasses = serializers.IntegerField(min_value=0, max_value=40, required=False, allow_null=True)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    red_flags = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text='Checklist answers by item code, e.g. {"saddle_numbness": false}.',
    )

    def to_internal_value(self, data):
        # The pain score is an integer on a 0-10 scale: 7.5 or "7" are refused, not rounded.
        if isinstance(data, dict):
            for name in ("pain", "stiffness", "water_glasses"):
                value = data.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise serializers.ValidationError({name: ["Must be a whole number."]})
            flags = data.get("red_flags")
            if isinstance(flags, dict):
                bad = {k: ["Must be true or false."] for k, v in flags.items() if not isinstance(v, bool)}
                if bad:
                    raise serializers.ValidationError({"red_flags": bad})
        return super().to_internal_value(data)


class EscalationFlagSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.CharField()
    question = serializers.CharField()
    guidance = serializers.CharField()


class EscalationSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["emergency", "urgent", "soon"])
    headline = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
    flags = EscalationFlagSerializer(many=True)


class CheckInOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    episode = serializers.UUIDField(source="episode_id")
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    pain = serializers.IntegerField()
    spasm_frequency = serializers.CharField()
    stiffness = serializers.IntegerField(allow_null=True)
    sleep_quality = serializers.CharField()
    water_glasses = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    red_flags = serializers.DictField(child=serializers.BooleanField(), source="red_flag_answers")
    escalation = serializers.SerializerMethodField()

    @extend_schema_field(EscalationSerializer(allow_null=True))
    def get_escalation(self, obj) -> dict | None:
        return checkin_escalation(checkin=obj)


class DailySummarySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Local calendar day in the patient's time zone")
    count = serializers.IntegerField()
    pain_min = serializers.IntegerField(allow_null=True)
    pain_max = serializers.IntegerField(allow_null=True)
    pain_mean = serializers.FloatField(allow_null=True)


class DailySummaryOutputSerializer(serializers.Serializer):
    episode = serializers.UUIDField()
    timezone = serializers.CharField()
    days = DailySummarySerializer(many=True)
