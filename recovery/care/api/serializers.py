from django.utils import timezone
from rest_framework import serializers

from backcare.core.api import StrictSerializer
from recovery.care.models import CareLink
from recovery.episodes.models import Episode
from recovery.timeline.selectors import TIMELINE_KINDS
from recovery.triage.selectors import PHASES, REASONS

# --- input -----------------------------------------------------------------------------------------


class RedeemInputSerializer(StrictSerializer):
    code = serializers.CharField(
        max_length=32, help_text="The invitation code, e.g. ABCDE-FGHJK (case, spaces and dashes do not matter)."
    )


class EmptyInputSerializer(StrictSerializer):
    """No fields: the action is the whole request."""


class NoteInputSerializer(StrictSerializer):
    text = serializers.CharField(max_length=4000)
    episode = serializers.UUIDField(required=False, help_text="The episode the note is about, if one.")


class PrescriptionInputSerializer(StrictSerializer):
    overrides = serializers.DictField(
        help_text="The protocol values to differ from the version's, each inside its hard bounds (see GET). "
        "They replace the previous prescription's: send all of them."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    episode = serializers.UUIDField(required=False, help_text="Defaults to the patient's open episode.")


# --- output, patient side --------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    display_name = serializers.CharField()


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


class PatientSummarySerializer(serializers.Serializer):
    patient = PatientSerializer()
    link = PhysioLinkSerializer()
    episodes = EpisodeBriefSerializer(many=True, help_text="Newest first")


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
    pain_trend = serializers.ChoiceField(choices=["improving", "stable", "worsening"], allow_null=True)
    not_improving = serializers.BooleanField(help_text="No better than at the start, at a review day (7 or 14)")
    not_improving_day = serializers.IntegerField(allow_null=True)
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


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TIMELINE_KINDS)
    at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True, help_text="Applications, rest and walks")
    ref = serializers.IntegerField(source="id", help_text="Row id within its kind")
    data = serializers.DictField(
        help_text="The event's own fields: checkin (id, episode, pain, stiffness, spasm_frequency, sleep_quality, "
        "water_glasses, note); application (id, episode, kind, auto_closed); rest (id, episode); medication (id, "
        "episode, med_class, name, dose_mg); activity (id, episode, kind, minutes, pain_before, pain_after); redflag "
        "(episode, checkin, code, level); reminder_sent (episode, reminder, kind, safety); reminder_ack (episode, "
        "reminder, kind, action); prescription (episode, overrides, note, author); note (episode, text, author)."
    )


class TimelinePageSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    timezone = serializers.CharField()
    next = serializers.URLField(allow_null=True)
    results = TimelineEntrySerializer(many=True)


class DailyAggregateSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Local calendar day in the patient's zone")
    checkins = serializers.IntegerField()
    pain_min = serializers.IntegerField(allow_null=True)
    pain_mean = serializers.FloatField(allow_null=True)
    pain_max = serializers.IntegerField(allow_null=True)
    ice = serializers.IntegerField()
    heat = serializers.IntegerField()
    applied_minutes = serializers.IntegerField()
    applications_planned = serializers.IntegerField(help_text="Start reminders that came due that day")
    reminders_sent = serializers.IntegerField()
    reminders_acted = serializers.IntegerField()
    adherence = serializers.FloatField(allow_null=True, help_text="Applications / planned, at most 1")


class DailyOutputSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    episode = serializers.UUIDField(allow_null=True)
    timezone = serializers.CharField()
    days = DailyAggregateSerializer(many=True)


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


def _instant(value) -> str | None:
    """As DRF's DateTimeField writes it: in the current zone (UTC), ISO 8601, "Z" for +00:00."""
    if not value:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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
            "consented_at": _instant(link.consented_at),
            "last_reviewed_at": _instant(link.last_reviewed_at),
            "status": str(link.status),
            "ended_at": _instant(link.ended_at),
        },
        "episode": None
        if episode is None
        else {
            "id": str(episode.id),
            "onset": _instant(episode.onset),
            "status": str(episode.status),
            "resolved_at": _instant(episode.resolved_at),
        },
        "need": int(row.need),
        "reasons": [str(reason) for reason in row.reasons],
        "red_flags": {level: int(row.red_flags[level]) for level in ("emergency", "urgent", "soon")},
        "day": row.day,
        "phase": str(row.phase),
        "latest_pain": row.latest_pain,
        "last_checkin_at": _instant(row.last_checkin_at),
        "pain_7d": [
            {"date": entry["date"].isoformat(), "mean": None if entry["mean"] is None else float(entry["mean"])}
            for entry in row.pain_7d
        ],
        "pain_trend": row.pain_trend,
        "not_improving": bool(row.not_improving),
        "not_improving_day": row.not_improving_day,
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
        "last_delivery_at": _instant(row.last_delivery_at),
        "no_delivery_48h": bool(row.no_delivery_48h),
    }


def timeline_entry_data(entry) -> dict:
    return {
        "kind": entry.kind,
        "at": _instant(entry.at),
        "ends_at": _instant(entry.ends_at),
        "ref": int(entry.id),
        "data": entry.data,
    }
