from rest_framework import serializers

from backcare.core import errors
from backcare.core.api import CommaSeparatedChoiceField, FilterSerializer
from recovery.api.shapes import EpisodeBriefSerializer, PhysioLinkSerializer, drf_instant
from recovery.outcomes.engine.trend import TRENDS
from recovery.triage.score import REASONS
from recovery.triage.selectors import TriageCursor
from recovery.triage.signals import PHASES

SEARCH_MAX = 100  # characters of ?search= used; the rest is ignored


_PHASE_ERROR = f"Must be one of {', '.join(PHASES)}."


class TriageCursorField(serializers.Field):
    """The `next` link's cursor. One not made here is a 404 (as DRF's cursor pagination answers), not a 400."""

    def get_value(self, dictionary):
        # A parameter given empty is a cursor too (an invalid one): DRF would drop it as if absent.
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data) -> TriageCursor:
        try:
            return TriageCursor.decode(str(data))
        except ValueError as exc:
            raise errors.NotFound("Invalid cursor.") from exc


class TriageFilterSerializer(FilterSerializer):
    """The queue's query parameters (the page size is the paginator's). The cursor is read first: a bad one is a
    404 whatever else is wrong."""

    cursor = TriageCursorField(required=False)
    # allow_blank only so that "?phase=" reaches validate_phase: DRF would drop it as if absent.
    phase = serializers.ChoiceField(
        choices=PHASES, required=False, allow_blank=True, error_messages={"invalid_choice": _PHASE_ERROR}
    )
    reason = CommaSeparatedChoiceField(choices=REASONS, required=False)
    search = serializers.CharField(required=False, allow_blank=True)

    def validate_phase(self, value: str) -> str:
        if not value:
            raise serializers.ValidationError(_PHASE_ERROR)
        return value

    def validate_search(self, value: str) -> str | None:
        return value[:SEARCH_MAX] or None


class RedFlagCountsSerializer(serializers.Serializer):
    emergency = serializers.IntegerField()
    urgent = serializers.IntegerField()
    soon = serializers.IntegerField()


class PainDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Local day in the patient's zone")
    mean = serializers.FloatField(allow_null=True)


class AdherenceSerializer(serializers.Serializer):
    applications_done = serializers.IntegerField(help_text="Ice and heat applications started in the last 7 days")
    applications_planned = serializers.IntegerField(help_text="Start reminders that came due in the last 7 days")
    ratio = serializers.FloatField(allow_null=True, help_text="done / planned, at most 1")
    reminders_sent = serializers.IntegerField()
    reminders_acted = serializers.IntegerField(help_text="Sent reminders the patient answered with done")


class TriagePatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    email = serializers.EmailField()
    timezone = serializers.CharField()


class TriageRowSerializer(serializers.Serializer):
    patient = TriagePatientSerializer()
    link = PhysioLinkSerializer()
    episode = EpisodeBriefSerializer(allow_null=True, help_text="The open episode, else the latest")
    need = serializers.IntegerField(help_text="Higher is more urgent; the queue is sorted by it")
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=REASONS), help_text="Why the patient needs attention, most urgent first"
    )
    red_flags = RedFlagCountsSerializer(help_text="Open red flags: reported since you last marked the patient reviewed")
    day = serializers.IntegerField(allow_null=True, help_text="Day of recovery, 1 on the local day of onset")
    phase = serializers.ChoiceField(choices=PHASES)
    latest_pain = serializers.IntegerField(allow_null=True)
    last_checkin_at = serializers.DateTimeField(allow_null=True)
    pain_7d = PainDaySerializer(many=True, help_text="Mean pain per local day, oldest first, today last")
    pain_trend = serializers.ChoiceField(choices=TRENDS, allow_null=True)
    not_improving = serializers.BooleanField(help_text="No better than at the start, at a review day (7 or 14)")
    not_improving_day = serializers.IntegerField(allow_null=True)
    startback_risk = serializers.ChoiceField(choices=["low", "medium", "high"], allow_null=True)
    peg_trend = serializers.ChoiceField(choices=TRENDS, allow_null=True)
    rest_hours = serializers.FloatField(help_text="Bed rest in total this episode")
    rest_cap_hours = serializers.IntegerField(allow_null=True)
    rest_over_cap = serializers.BooleanField()
    nsaid_days = serializers.IntegerField()
    nsaid_flag_day = serializers.IntegerField(allow_null=True)
    nsaid_over = serializers.BooleanField()
    adherence = AdherenceSerializer(allow_null=True, source="adherence_or_none")
    has_active_device = serializers.BooleanField()
    last_delivery_at = serializers.DateTimeField(allow_null=True, help_text="Last reminder a device accepted")
    no_delivery_48h = serializers.BooleanField()


class TriagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    results = TriageRowSerializer(many=True)


def triage_row_data(row) -> dict:
    link, episode = row.link, row.episode
    adherence = row.adherence_or_none
    return {
        "patient": {
            "id": link.patient_id,
            "display_name": str(link.display_name),
            "email": str(link.email),
            "timezone": row.zone.key,
        },
        "link": {
            "id": str(link.id),
            "consented_at": drf_instant(link.consented_at),
            "last_reviewed_at": drf_instant(link.last_reviewed_at),
            "status": str(link.status),
            "ended_at": drf_instant(link.ended_at),
        },
        "episode": None
        if episode is None
        else {
            "id": str(episode.id),
            "onset": drf_instant(episode.onset),
            "status": str(episode.status),
            "resolved_at": drf_instant(episode.resolved_at),
        },
        "need": int(row.need),
        "reasons": [str(reason) for reason in row.reasons],
        "red_flags": {level: int(row.red_flags[level]) for level in ("emergency", "urgent", "soon")},
        "day": row.day,
        "phase": str(row.phase),
        "latest_pain": row.latest_pain,
        "last_checkin_at": drf_instant(row.last_checkin_at),
        "pain_7d": [
            {"date": entry["date"].isoformat(), "mean": None if entry["mean"] is None else float(entry["mean"])}
            for entry in row.pain_7d
        ],
        "pain_trend": row.pain_trend,
        "not_improving": bool(row.not_improving),
        "not_improving_day": row.not_improving_day,
        "startback_risk": row.startback_risk,
        "peg_trend": row.peg_trend,
        "rest_hours": float(row.rest_hours),
        "rest_cap_hours": row.rest_cap_hours,
        "rest_over_cap": bool(row.rest_over_cap),
        "nsaid_days": int(row.nsaid_days),
        "nsaid_flag_day": row.nsaid_flag_day,
        "nsaid_over": bool(row.nsaid_over),
        "adherence": None
        if adherence is None
        else {
            "applications_done": int(adherence["applications_done"]),
            "applications_planned": int(adherence["applications_planned"]),
            "ratio": None if adherence["ratio"] is None else float(adherence["ratio"]),
            "reminders_sent": int(adherence["reminders_sent"]),
            "reminders_acted": int(adherence["reminders_acted"]),
        },
        "has_active_device": bool(row.has_active_device),
        "last_delivery_at": drf_instant(row.last_delivery_at),
        "no_delivery_48h": bool(row.no_delivery_48h),
    }
