"""Serializers of the treatment endpoints. A write's field names are the API's; `source` maps them to the
service's keyword arguments (episode -> episode_id), so a view passes the validated data as it is."""

from rest_framework import serializers

from backcare.core.api import AwareDateTimeField, StrictSerializer
from recovery.treatment.models import Activity, ApplicationKind, MedicationClass
from recovery.treatment.services import ACTIVITY_MAX_MINUTES, DOSE_RANGES_MG


class ApplicationPutSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ApplicationKind.choices)
    started_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    stopped_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    episode = serializers.UUIDField(
        required=False, source="episode_id", help_text="Defaults to the episode at started_at."
    )


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
    starts_end_at = serializers.DateTimeField(help_text="No ice or heat start reminder after this (the review day)")
    feeling_better = serializers.BooleanField(help_text="The latest check-in days are good days: offer ending the plan")
    protocol = serializers.DictField(help_text="The effective protocol: version defaults plus prescription")


# --- rest, medication, walks ---------------------------------------------------------------------


class RestPutSerializer(StrictSerializer):
    started_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    stopped_at = AwareDateTimeField(
        required=False, allow_null=True, default=None, help_text="Set when recording a rest that is over (offline)."
    )
    episode = serializers.UUIDField(
        required=False, source="episode_id", help_text="Defaults to the episode at started_at."
    )


class RestStopSerializer(StrictSerializer):
    stopped_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="Defaults to now.")


class RestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    episode = serializers.UUIDField(source="episode_id")
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True, help_text="null while the rest is running")


_DOSE_HELP = "Single dose in mg. Sane range per class: " + "; ".join(
    f"{med_class} {low}-{high}" for med_class, (low, high) in DOSE_RANGES_MG.items()
)


class MedicationPutSerializer(StrictSerializer):
    taken_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    med_class = serializers.ChoiceField(choices=MedicationClass.choices)
    name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    dose_mg = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=min(low for low, _ in DOSE_RANGES_MG.values()),
        max_value=max(high for _, high in DOSE_RANGES_MG.values()),
        coerce_to_string=False,
        help_text=_DOSE_HELP,
    )
    episode = serializers.UUIDField(
        required=False, source="episode_id", help_text="Defaults to the episode at taken_at."
    )

    def to_internal_value(self, data):
        # A dose is a JSON number: "400" or true are refused, not coerced.
        if isinstance(data, dict) and "dose_mg" in data:
            value = data["dose_mg"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise serializers.ValidationError({"dose_mg": ["Must be a number."]})
        return super().to_internal_value(data)


class MedicationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    episode = serializers.UUIDField(source="episode_id")
    taken_at = serializers.DateTimeField()
    med_class = serializers.ChoiceField(choices=MedicationClass.choices)
    name = serializers.CharField()
    dose_mg = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False)


class ActivityPutSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    started_at = AwareDateTimeField()
    minutes = serializers.IntegerField(min_value=1, max_value=ACTIVITY_MAX_MINUTES)
    pain_before = serializers.IntegerField(min_value=0, max_value=10)
    pain_after = serializers.IntegerField(min_value=0, max_value=10)
    episode = serializers.UUIDField(
        required=False, source="episode_id", help_text="Defaults to the episode at started_at."
    )


class ActivityOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    episode = serializers.UUIDField(source="episode_id")
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    started_at = serializers.DateTimeField()
    minutes = serializers.IntegerField()
    pain_before = serializers.IntegerField()
    pain_after = serializers.IntegerField()


# --- the protocol as shown to the patient --------------------------------------------------------


class BoundSerializer(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class PrescriptionEntrySerializer(serializers.Serializer):
    overrides = serializers.DictField(help_text="The values this prescription changed")
    note = serializers.CharField()
    author = serializers.CharField(allow_null=True, help_text="The physiotherapist's display name")
    created_at = serializers.DateTimeField()


class EpisodeProtocolSerializer(serializers.Serializer):
    episode = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The protocol version the episode follows")
    values = serializers.DictField(help_text="The values in force: the version's, with the newest prescription's")
    defaults = serializers.DictField(help_text="The version's values, before any prescription")
    prescribable = serializers.ListField(child=serializers.CharField(), help_text="What a physiotherapist may change")
    bounds = serializers.DictField(
        child=BoundSerializer(), help_text="Hard safety bounds no version or prescription may leave"
    )
    prescriptions = PrescriptionEntrySerializer(many=True, help_text="Newest first; the first one applies")


class PrescriptionInputSerializer(StrictSerializer):
    overrides = serializers.DictField(
        help_text="The protocol values to differ from the version's, each inside its hard bounds (see GET). "
        "They replace the previous prescription's: send all of them."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    episode = serializers.UUIDField(required=False, help_text="Defaults to the patient's open episode.")
