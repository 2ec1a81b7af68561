"""Output of the exports: the patient's own data as JSON (the same shapes as the API's), and the FHIR
Bundle's outline for the schema (the bundle itself is built in recovery.timeline.export)."""

from rest_framework import serializers

from backcare.core.api import CommaSeparatedChoiceField
from backcare.core.errors import NotFound
from recovery.api.common import AsSent, DateRangeFilter, EpisodeFilter
from recovery.api.shapes import drf_instant
from recovery.timeline.selectors import TIMELINE_KINDS, TimelineCursor

# --- query parameters ---------------------------------------------------------------------------------


class DailyFilter(DateRangeFilter, EpisodeFilter):
    """?since=&until=&episode=, as episode_id, since and until."""


class TimelineCsvFilter(DailyFilter):
    """The daily filter and ?kinds=a,b."""

    kinds = CommaSeparatedChoiceField(choices=TIMELINE_KINDS, required=False)


class _CursorText(AsSent, serializers.Field):
    """The cursor as sent; TimelineFilter.validate decodes it."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class TimelineFilter(TimelineCsvFilter):
    """The CSV's filters and the `next` link's ?cursor= (as `after`); a cursor not made here is a 404."""

    cursor = _CursorText(required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)  # checked first: a bad range answers 400 before a bad cursor's 404
        if "cursor" in attrs:
            try:
                attrs["after"] = TimelineCursor.decode(attrs.pop("cursor"))
            except ValueError as exc:
                raise NotFound("Invalid cursor.") from exc
        return attrs


# --- the FHIR bundle, for the schema only -------------------------------------------------------------


class FhirEntrySerializer(serializers.Serializer):
    fullUrl = serializers.CharField(help_text="urn:uuid:<id>")  # noqa: N815 (FHIR's name)
    resource = serializers.DictField(
        help_text="Patient, EpisodeOfCare, Observation (pain, LOINC 72514-3), Procedure (ice or heat), "
        "MedicationStatement or Flag (red flag)"
    )


class FhirBundleSerializer(serializers.Serializer):
    """A FHIR R4 Bundle of type collection (application/fhir+json)."""

    resourceType = serializers.ChoiceField(choices=["Bundle"])  # noqa: N815
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["collection"])
    timestamp = serializers.CharField(help_text="When the bundle was made, with the patient's UTC offset")
    entry = FhirEntrySerializer(many=True)


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
        "reminder, kind, action); prescription (episode, overrides, note, author); note (episode, text, author); alert (episode, alert, level, "
        "code); alert_ack (episode, alert, level, author); pause (episode, reason; ends_at when it ended); resume "
        "(episode, reason: resumed or resolved); questionnaire (id, episode, questionnaire, version, score, band, "
        "scoring_rule)."
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


def timeline_entry_data(entry) -> dict:
    return {
        "kind": entry.kind,
        "at": drf_instant(entry.at),
        "ends_at": drf_instant(entry.ends_at),
        "ref": int(entry.id),
        "data": entry.data,
    }
