"""The data a triage summary is computed from, read for many patients at once in three grouped queries.

1. the current episode of each patient (the open one, else the latest) with its newest prescription, newest
   check-in, bed rest, newest reminder sent and earliest reminder still to send;
2. per episode and local day in the patient's zone: check-ins and pain, applications, reminders; NSAID days;
3. the red flags that alert the physiotherapist.
Protocol versions are immutable rows: kept per process once read.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate

from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.outcomes.models import QuestionnaireResponse
from recovery.protocol.definition import Protocol, prescribe, protocol_from_dict
from recovery.reminders.models import Reminder
from recovery.timeline.daily import START_KINDS
from recovery.treatment.models import (
    Application,
    MedicationClass,
    MedicationIntake,
    Prescription,
    ProtocolVersion,
    RestPeriod,
)
from recovery.triage.signals import DAYS_KEPT, FIRST_DAYS, RedFlagMark
from recovery.triage.sql import json_value, queryset_dicts, queryset_tuples


@dataclass
class Facts:
    """What summaries_compute needs of the patients it computes, by patient and by episode."""

    episodes: dict[int, SimpleNamespace]  # patient id -> the current episode's row
    days: dict[Any, dict[int, list[int]]] = field(default_factory=lambda: defaultdict(dict))
    nsaid_days: dict[Any, int] = field(default_factory=lambda: defaultdict(int))
    red_flags: dict[Any, list[RedFlagMark]] = field(default_factory=lambda: defaultdict(list))
    protocols: "ProtocolCache | None" = None


def facts_fetch(*, patient_ids: list[int], zones: set[str], now: datetime) -> Facts:
    """The facts of the patients' current episodes, with the local days counted in `zones` (the patients')."""
    facts = Facts(episodes=_episodes_fetch(patient_ids=patient_ids))
    ids = [episode.id for episode in facts.episodes.values()]
    if not ids:
        return facts
    for source, episode_id, day, a, b, c in _day_rows_fetch(ids=ids, zones=zones, now=now):
        if source == "nsaid":
            facts.nsaid_days[episode_id] = a
            continue
        # Per local day: check-ins, pain sum, applications, start reminders due, reminders sent, sent and done.
        bucket = facts.days[episode_id].setdefault(day.toordinal(), [0, 0, 0, 0, 0, 0])
        if source == "pain":
            bucket[0], bucket[1] = a, b
        elif source == "apps":
            bucket[2] = a
        else:
            bucket[3], bucket[4], bucket[5] = a, b, c
    for episode_id, level, at in (
        RedFlagEvent.objects.filter(episode_id__in=ids, alert_physiotherapist=True)
        .order_by()
        .values_list("episode_id", "level", "occurred_at")
    ):
        facts.red_flags[episode_id].append({"level": level, "at": at.isoformat()})
    facts.protocols = ProtocolCache(facts.episodes.values())
    return facts


_VERSIONS: dict[int, tuple[int, dict]] = {}  # pk -> (version, definition): a version's rows never change


class ProtocolCache:
    """Effective protocols, built once per (version, overrides) pair; no query at all once the versions in use
    are known."""

    def __init__(self, episodes):
        wanted = {episode.protocol_version_id for episode in episodes}
        if not _VERSIONS or not wanted - {None} <= set(_VERSIONS):
            for pk, number, definition in ProtocolVersion.objects.values_list("pk", "version", "definition"):
                _VERSIONS[pk] = (number, definition)
        self._cache: dict[tuple, Protocol] = {}
        self._current = max(_VERSIONS, key=lambda pk: _VERSIONS[pk][0], default=None)

    def of(self, episode: SimpleNamespace) -> Protocol:
        pk = episode.protocol_version_id if episode.protocol_version_id in _VERSIONS else self._current
        if pk is None:
            raise LookupError("No protocol version is loaded: run manage.py migrate")
        overrides = episode.overrides or {}
        key = (pk, json.dumps(overrides, sort_keys=True))
        if key not in self._cache:
            self._cache[key] = prescribe(protocol_from_dict(_VERSIONS[pk][1]), overrides)
        return self._cache[key]


def _episodes_fetch(*, patient_ids: list[int]) -> dict[int, SimpleNamespace]:
    """Query 1: the current episode of each patient, and the patient's newest check-in id."""
    current = Episode.objects.filter(patient=OuterRef("patient_id")).order_by("status", "-onset").values("pk")[:1]
    newest_prescription = Prescription.objects.filter(episode=OuterRef("pk")).order_by("-created_at", "-id")
    newest_checkin = CheckIn.objects.filter(episode=OuterRef("pk")).order_by("-occurred_at", "-id")
    rest_closed = (
        RestPeriod.objects.filter(episode=OuterRef("pk"), stopped_at__isnull=False)
        .order_by()
        .annotate(_g=Value(1))
        .values("_g")
        .annotate(total=Sum(ExpressionWrapper(F("stopped_at") - F("started_at"), output_field=DurationField())))
        .values("total")
    )
    reminders = Reminder.objects.filter(episode=OuterRef("pk"), recipient=None)  # not the care team's alerts
    responses = QuestionnaireResponse.objects.filter(episode=OuterRef("pk")).order_by("-occurred_at", "-id")
    peg = responses.filter(questionnaire__code="peg").values("score")
    episodes = (
        Episode.objects.filter(patient_id__in=patient_ids)
        .filter(pk=Subquery(current))
        .annotate(
            overrides=Subquery(newest_prescription.values("overrides")[:1]),
            last_checkin_at=Subquery(newest_checkin.values("occurred_at")[:1]),
            last_pain=Subquery(newest_checkin.values("pain")[:1]),
            checkin_mark=Subquery(
                CheckIn.objects.filter(patient=OuterRef("patient_id")).order_by("-pk").values("pk")[:1]
            ),
            rest_closed=Subquery(rest_closed, output_field=DurationField()),
            rest_open=Subquery(
                RestPeriod.objects.filter(episode=OuterRef("pk"), stopped_at__isnull=True).values("started_at")[:1]
            ),
            # Walks the patient's reminders newest sent first (index reminder_patient_sent): a probe or two.
            last_sent=Subquery(
                reminders.filter(patient=OuterRef("patient_id"), sent_at__isnull=False)
                .order_by("-sent_at")
                .values("sent_at")[:1]
            ),
            # Outcome measures (issue 17): the newest STarT Back risk, the two newest PEG scores (for the trend).
            startback_risk=Subquery(responses.filter(questionnaire__code="startback").values("band")[:1]),
            peg_last=Subquery(peg[:1]),
            peg_before=Subquery(peg[1:2]),
            pending_due=Subquery(
                reminders.filter(status__in=(Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED))
                .order_by("due_at")
                .values("due_at")[:1]
            ),
        )
    )
    columns = ("id", "patient_id", "onset", "status", "resolved_at", "protocol_version_id", "overrides")
    columns += ("last_checkin_at", "last_pain", "checkin_mark", "rest_closed", "rest_open", "last_sent", "pending_due")
    columns += ("startback_risk", "peg_last", "peg_before")
    rows = {}
    for row in queryset_dicts(episodes.values(*columns)):
        row["overrides"] = json_value(row["overrides"])
        rows[row["patient_id"]] = SimpleNamespace(**row)
    return rows


def _local_day(field: str, zones: set[str]) -> Case:
    """The instant's calendar day in its patient's own zone (the profile's), in SQL on PostgreSQL and SQLite.

    One TruncDate per zone present (a handful), chosen per row by the patient's zone.
    """
    return Case(
        *(
            When(patient__profile__timezone=zone, then=TruncDate(field, tzinfo=ZoneInfo(zone)))
            for zone in sorted(zones)
        ),
        default=TruncDate(field, tzinfo=UTC),
        output_field=DateField(),
    )


def _day_rows_fetch(*, ids: list, zones: set[str], now: datetime) -> list[tuple]:
    """Query 2: (source, episode, local day, a, b, c) for
    ("pain", ..., check-ins, pain sum, 0) of the first days and the last DAYS_KEPT days of each episode,
    ("apps", ..., ice and heat applications started, 0, 0) and
    ("reminders", ..., start reminders due, reminders sent, reminders sent and done) of the last DAYS_KEPT days,
    ("nsaid", ..., None, local days with an NSAID intake, 0, 0)."""
    since = now - timedelta(days=DAYS_KEPT + 1)
    zero = Value(0, output_field=IntegerField())
    pain = (
        CheckIn.objects.filter(episode_id__in=ids)
        .filter(Q(occurred_at__gte=since) | Q(occurred_at__lt=F("episode__onset") + timedelta(days=FIRST_DAYS + 1)))
        .annotate(src=Value("pain", output_field=CharField()), day=_local_day("occurred_at", zones))
        .values("src", "episode_id", "day")
        .annotate(a=Count("id"), b=Sum("pain"), c=zero)
        .order_by()
    )
    applications = (
        Application.objects.filter(episode_id__in=ids, started_at__gte=since)
        .annotate(src=Value("apps", output_field=CharField()), day=_local_day("started_at", zones))
        .values("src", "episode_id", "day")
        .annotate(a=Count("id"), b=zero, c=zero)
        .order_by()
    )
    sent = Q(sent_at__isnull=False)
    reminders = (
        Reminder.objects.filter(episode_id__in=ids, recipient=None, due_at__gte=since, due_at__lte=now)
        .exclude(status=Reminder.Status.CANCELLED)
        .annotate(src=Value("reminders", output_field=CharField()), day=_local_day("due_at", zones))
        .values("src", "episode_id", "day")
        .annotate(
            a=Count("id", filter=Q(kind__in=START_KINDS)),
            b=Count("id", filter=sent),
            c=Count("id", filter=sent & Q(ack_action=Reminder.Action.DONE)),
        )
        .order_by()
    )
    nsaid = (
        MedicationIntake.objects.filter(episode_id__in=ids, med_class=MedicationClass.NSAID)
        .annotate(src=Value("nsaid", output_field=CharField()), day=Value(None, output_field=DateField()))
        .values("src", "episode_id", "day")
        .annotate(a=Count(_local_day("taken_at", zones), distinct=True), b=zero, c=zero)
        .order_by()
    )
    combined = pain.union(applications, reminders, nsaid, all=True)
    return queryset_tuples(combined.values_list("src", "episode_id", "day", "a", "b", "c"))
