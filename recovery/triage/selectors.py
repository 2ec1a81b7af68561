"""The physiotherapist's triage queue: every visible patient, what needs attention, sorted by need.

Each patient's signals live in a stored summary (recovery.TriageSummary, one row per patient): day and phase
come from the onset and `now`; pain per local day in the patient's zone, the 7-day trend, "not improving"
at day 7 or 14, bed rest, NSAID days, adherence over the last seven local days, the last reminder
delivered and the open red flags from the summary. A summary that is missing or out of date is computed
again, for all such patients at once, in three grouped queries, and stored.

An unfiltered page is ranked by the database: TriageRow._score is also one SQL expression (_need) over the
summary's columns, the link and the devices, ordered and cut to the page with a keyset cursor, so only
the page's rows reach Python, where they are scored again and must agree. A filter (phase, reason) or a
search ranks every row in Python with the same TriageRow. Either way a read is a handful of queries
whatever the number of patients. The same rules as the patient's own screen apply
(recovery.protocol.engine).
"""

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice

from backcare.accounts.models import Role, User
from backcare.core.pagination import keyset_decode, keyset_encode
from content.models import RedFlagLevel
from recovery.care.models import CareLink
from recovery.care.selectors import care_links_active_for
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.protocol.definition import Protocol, prescribe, protocol_from_dict
from recovery.reminders.models import Reminder
from recovery.timeline.selectors import START_KINDS, hashable, local_day_bounds
from recovery.treatment.models import (
    Application,
    MedicationClass,
    MedicationIntake,
    Prescription,
    ProtocolVersion,
    RestPeriod,
)
from recovery.triage.services import triage_summaries_store

MAX_AGE = timedelta(minutes=10)  # bounds a summary's life whatever happened around the services
DAYS_KEPT = 8  # the local days before today that a summary looks at
FIRST_DAYS = 3  # the episode's first local days, kept for "not improving"
SUMMARY_FORMAT = 1  # bump when the summary's keys change: stored ones of another format are computed again
SILENCE = timedelta(hours=48)
HIGH_PAIN = 7
LOW_ADHERENCE = 0.5
MIN_PLANNED_FOR_ADHERENCE = 3

# How much each concern adds to a patient's need. Red flags dominate, emergencies above all.
logger = logging.getLogger(__name__)

WEIGHTS: dict[str, int] = {
    "redflag_emergency": 1000,
    "redflag_urgent": 300,
    "redflag_soon": 100,
    "not_improving_day14": 60,
    "not_improving_day7": 40,
    "pain_worsening": 30,
    "rest_over_cap": 30,
    "nsaid_days": 20,
    "high_pain": 20,
    "no_checkin_48h": 15,
    "low_adherence": 10,
    "no_active_device": 10,
    "no_delivery_48h": 10,
}
REASONS = tuple(WEIGHTS)
PHASES = ("acute", "heat", "resolved", "none")


_LEVELS = (RedFlagLevel.EMERGENCY, RedFlagLevel.URGENT, RedFlagLevel.SOON)
_FLAG_REASONS = tuple(f"redflag_{level}" for level in _LEVELS)


class TriageRow:
    """One patient of the queue. What ranking needs (phase, red flags, reasons, need) is worked out for every
    row; what is only shown (pain per day, adherence, rest...) is read from the summary when asked for, so only
    the rows of the page pay for it."""

    __slots__ = ("link", "zone", "today", "now", "data", "episode", "phase", "day", "red_flags")
    __slots__ += ("has_active_device", "no_delivery_48h", "need", "reasons")

    def __init__(self, link: Any, zone: ZoneInfo, today: date, now: datetime, data: dict | None):
        self.link, self.zone, self.today, self.now = link, zone, today, now
        self.has_active_device = bool(link.device_webpush or link.device_fcm or link.device_apns)
        self.red_flags = dict.fromkeys(_LEVELS, 0)
        self.no_delivery_48h = False
        self.episode, self.phase, self.day, self.data = None, "none", None, None
        if data is not None and data["e"] is not None:
            self.data = data
            onset, resolved_at = datetime.fromisoformat(data["on"]), _instant(data["ra"])
            self.episode = SimpleNamespace(id=data["e"], onset=onset, status=data["st"], resolved_at=resolved_at)
            self.day = today.toordinal() - data["o1"] + 1
            if resolved_at is not None and resolved_at <= now:
                self.phase = "resolved"
            else:
                self.phase = "acute" if now < onset + timedelta(hours=data["pr"][0]) else "heat"
            if data["fl"] and data["st"] == Episode.Status.OPEN:
                reviewed = link.last_reviewed_at
                for level, at in data["fl"]:
                    if level in self.red_flags and (reviewed is None or datetime.fromisoformat(at) > reviewed):
                        self.red_flags[level] += 1
        self._score()

    def _score(self) -> None:
        # Mirrored in SQL by _need (the database ranks unfiltered pages): a change here is a change there.
        reasons = [reason for reason, level in zip(_FLAG_REASONS, _LEVELS, strict=True) if self.red_flags[level]]
        data, now = self.data, self.now
        if data is not None:
            if data["ni"] is not None:
                reasons.append("not_improving_day14" if data["ni"] >= 14 else "not_improving_day7")
            if self.phase in ("acute", "heat"):
                if data["tr"] == "worsening":
                    reasons.append("pain_worsening")
                if self.rest_over_cap:
                    reasons.append("rest_over_cap")
                if self.nsaid_over:
                    reasons.append("nsaid_days")
                if data["lp"] is not None and data["lp"] >= HIGH_PAIN:
                    reasons.append("high_pain")
                silent = now - max(self.episode.onset, self.link.consented_at) >= SILENCE
                if silent and (data["lc"] is None or now - datetime.fromisoformat(data["lc"]) >= SILENCE):
                    reasons.append("no_checkin_48h")
                done, planned = data["ad"][0], data["ad"][1]
                if planned >= MIN_PLANNED_FOR_ADHERENCE and round(min(1.0, done / planned), 2) < LOW_ADHERENCE:
                    reasons.append("low_adherence")
                if not self.has_active_device:
                    reasons.append("no_active_device")
                elif silent and (data["ld"] is None or now - datetime.fromisoformat(data["ld"]) >= SILENCE):
                    self.no_delivery_48h = True
                    reasons.append("no_delivery_48h")
        self.reasons = reasons
        extra = WEIGHTS["redflag_emergency"] * max(0, self.red_flags[RedFlagLevel.EMERGENCY] - 1)
        self.need = sum(WEIGHTS[reason] for reason in reasons) + extra

    # --- shown, not ranked: read when asked ---------------------------------------------------------------

    def _get(self, key: str, default: Any = None) -> Any:
        return self.data[key] if self.data is not None else default

    @property
    def latest_pain(self) -> int | None:
        return self._get("lp")

    @property
    def last_checkin_at(self) -> datetime | None:
        return _instant(self._get("lc"))

    @property
    def last_delivery_at(self) -> datetime | None:
        return _instant(self._get("ld"))

    @property
    def pain_7d(self) -> list[dict[str, Any]]:
        """Mean pain per local day, oldest first, today last."""
        today = self.today
        return [{"date": today - timedelta(days=6 - i), "mean": mean} for i, mean in enumerate(self._get("p7", []))]

    @property
    def pain_trend(self) -> str | None:
        return self._get("tr")

    @property
    def not_improving_day(self) -> int | None:
        return self._get("ni")

    @property
    def not_improving(self) -> bool:
        return self.not_improving_day is not None

    @property
    def _rest_seconds(self) -> float:
        data = self.data
        if data is None:
            return 0.0
        rest = data["rc"]
        if data["ro"] is not None:
            open_since = datetime.fromisoformat(data["ro"])
            if open_since < self.now:
                rest += (self.now - open_since).total_seconds()
        return rest

    @property
    def rest_hours(self) -> float:
        return round(self._rest_seconds / 3600, 1)

    @property
    def rest_cap_hours(self) -> int | None:
        return self.data["pr"][1] if self.data is not None else None

    @property
    def rest_over_cap(self) -> bool:
        return self.data is not None and self._rest_seconds > self.data["pr"][1] * 3600

    @property
    def nsaid_days(self) -> int:
        return self._get("nd", 0)

    @property
    def nsaid_flag_day(self) -> int | None:
        return self.data["pr"][2] if self.data is not None else None

    @property
    def nsaid_over(self) -> bool:
        return self.data is not None and self.data["nd"] >= self.data["pr"][2]

    @property
    def adherence(self) -> dict[str, Any]:
        if self.data is None:
            return {}
        done, planned, sent, acted = self.data["ad"]
        return {
            "applications_done": done,
            "applications_planned": planned,
            "ratio": round(min(1.0, done / planned), 2) if planned else None,
            "reminders_sent": sent,
            "reminders_acted": acted,
        }

    @property
    def adherence_or_none(self) -> dict[str, Any] | None:
        return self.adherence or None

    @property
    def patient(self) -> dict[str, Any]:
        link = self.link
        return {
            "id": link.patient_id,
            "display_name": link.display_name,
            "email": link.email,
            "timezone": self.zone.key,
        }

    @property
    def sort_key(self) -> tuple:
        reviewed = self.link.last_reviewed_at
        return (-self.need, reviewed.timestamp() if reviewed else float("-inf"), self.link.patient_id)


@dataclass(frozen=True)
class TriageCursor:
    """The sort key of the last row of a page: (need, last reviewed, patient id)."""

    need: int
    reviewed: float | None
    patient_id: int

    def key(self) -> tuple:
        return (-self.need, self.reviewed if self.reviewed is not None else float("-inf"), self.patient_id)

    def encode(self) -> str:
        return keyset_encode([self.need, self.reviewed, self.patient_id])

    @classmethod
    def decode(cls, raw: str) -> "TriageCursor":
        """Raises ValueError when the cursor was not made here."""
        need, reviewed, patient_id = keyset_decode(raw, length=3)
        numbers = (need, patient_id) if reviewed is None else (need, patient_id, reviewed)
        if any(isinstance(n, bool) for n in numbers) or not (isinstance(need, int) and isinstance(patient_id, int)):
            raise ValueError("invalid cursor")
        if reviewed is not None and not (isinstance(reviewed, int | float) and math.isfinite(reviewed)):
            raise ValueError("invalid cursor")
        return cls(need, float(reviewed) if reviewed is not None else None, patient_id)

    @classmethod
    def of(cls, row: TriageRow) -> "TriageCursor":
        reviewed = row.link.last_reviewed_at
        return cls(row.need, reviewed.timestamp() if reviewed else None, row.link.patient_id)


@dataclass(frozen=True)
class TriagePage:
    rows: list[TriageRow]
    next: TriageCursor | None


def _with_summary(links):
    """Each link with its patient's stored summary (a plain join) and newest check-in id (one index probe)."""
    newest_checkin = CheckIn.objects.filter(patient=OuterRef("patient_id")).order_by("-pk").values("pk")[:1]
    summary = "patient__triage_summary__"
    return links.annotate(
        checkin_mark=Subquery(newest_checkin),
        s_revision=F(f"{summary}revision"),
        s_computed=F(f"{summary}computed_revision"),
        s_zone=F(f"{summary}zone"),
        s_fmt=F(f"{summary}fmt"),
        s_mark=F(f"{summary}checkin_mark"),
        s_at=Cast(f"{summary}computed_at", TextField()),
        s_expires=Cast(f"{summary}expires_at", TextField()),
        s_data=F(f"{summary}data"),
        zone=F("patient__profile__timezone"),
    )


def _stale_q(now: datetime) -> Q:
    """The links (of _with_summary) whose summary is missing or out of date: the rule of _fresh, in SQL."""
    summary = "patient__triage_summary__"
    missing = Q(s_revision__isnull=True) | Q(s_computed__isnull=True) | Q(s_fmt__isnull=True) | Q(s_mark__isnull=True)
    missing |= Q(**{f"{summary}computed_at__isnull": True}) | Q(**{f"{summary}expires_at__isnull": True})
    moved = ~Q(s_computed=F("s_revision")) | ~Q(s_fmt=SUMMARY_FORMAT)
    moved |= ~Q(s_zone=Coalesce(F("zone"), Value("UTC"))) | ~Q(s_mark=Coalesce(F("checkin_mark"), Value(0)))
    timed = Q(**{f"{summary}computed_at__gt": now}) | Q(**{f"{summary}expires_at__lte": now})
    return missing | moved | timed


def _links(*, physiotherapist: User, search: str | None):
    """The visible links, each with its patient, whether a device is active, and the patient's summary."""
    links = _with_summary(care_links_active_for(physiotherapist=physiotherapist)).annotate(
        device_webpush=Exists(WebPushDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
        device_fcm=Exists(GCMDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
        device_apns=Exists(APNSDevice.objects.filter(user=OuterRef("patient_id"), active=True)),
    )
    if search:
        links = links.filter(Q(patient__display_name__icontains=search) | Q(patient__email__icontains=search))
    return links


def _dicts(qs) -> list[dict[str, Any]]:
    """A values() queryset's rows. On PostgreSQL straight from the cursor: psycopg already hands back UUIDs,
    aware datetimes, dates and intervals, and Django's per-value converters cost more than the query here."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tuples(qs) -> list[tuple]:
    """A values_list() queryset's rows, straight from the cursor on PostgreSQL (see _dicts)."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json(value: Any) -> Any:
    # A summary is JSON text; Django's psycopg setup hands JSON columns back as text too (SQLite's ORM parses them).
    return orjson.loads(value) if isinstance(value, str) else value


def _instant(value: Any) -> datetime | None:
    """An instant from a JSON object: ISO text with an offset (PostgreSQL) or naive UTC (SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_SUMMARY = ("checkin_mark", "s_revision", "s_computed", "s_zone", "s_fmt", "s_mark", "s_at", "s_expires")
_SUMMARY += ("s_data", "zone")


class _Link:
    """One row of the queue's query: the care link, its patient, the patient's stored summary."""

    __slots__ = ("id", "patient_id", "status", *_SUMMARY, "device_webpush", "device_fcm", "device_apns")
    __slots__ += ("display_name", "email", "consented_at", "ended_at", "last_reviewed_at")

    def __init__(self, row: tuple):
        self.id, self.patient_id, self.status, self.checkin_mark, self.s_revision, self.s_computed = row[:6]
        self.s_zone, self.s_fmt, self.s_mark = row[6:9]
        self.s_at, self.s_expires = _instant(row[9]), _instant(row[10])
        self.s_data, self.zone = _json(row[11]), row[12] or "UTC"
        self.device_webpush, self.device_fcm, self.device_apns, self.display_name, self.email = row[13:18]
        # As text: datetime.fromisoformat is several times cheaper than the driver's loader.
        self.consented_at, self.ended_at, self.last_reviewed_at = (
            _instant(row[18]),
            _instant(row[19]),
            _instant(row[20]),
        )


_LINK_COLUMNS = ("id", "patient_id", "status", *_SUMMARY, "device_webpush", "device_fcm", "device_apns")
_LINK_COLUMNS += ("display_name", "email", "consented", "ended", "reviewed")


def _shown(links):
    """The link's columns that _Link reads besides the summary: the patient's name and the link's instants."""
    return links.annotate(
        display_name=F("patient__display_name"),
        email=F("patient__email"),
        consented=Cast("consented_at", TextField()),
        ended=Cast("ended_at", TextField()),
        reviewed=Cast("last_reviewed_at", TextField()),
    )


def _link_rows(*, physiotherapist: User, search: str | None) -> list[_Link]:
    # Plain values, not model instances: 500 rows of three models each would cost more than the query.
    def query(physio: User | int):
        if not isinstance(physio, User):
            physio = User(pk=physio, role=Role.PHYSIOTHERAPIST)
        return _shown(_links(physiotherapist=physio, search=search)).values_list(*_LINK_COLUMNS)

    if connection.vendor != "postgresql" or search is not None or not physiotherapist.is_physiotherapist:
        return [_Link(row) for row in _tuples(query(physiotherapist))]
    compiled = _compiled(("links",), lambda: (query(_STAND_INS["physio"]),))
    (links,) = _swap(compiled, {_STAND_INS["physio"]: physiotherapist.pk})
    return [_Link(row) for row in _run(links)]


def _fresh(link: Any, now: datetime) -> bool:
    """Whether the stored summary still says what the data says (see recovery.models.TriageSummary)."""
    if link.s_data is None or link.s_revision is None or link.s_computed != link.s_revision:
        return False
    if link.s_zone != link.zone or link.s_fmt != SUMMARY_FORMAT or link.s_mark != (link.checkin_mark or 0):
        return False
    return link.s_at is not None and link.s_expires is not None and link.s_at <= now < link.s_expires


_VERSIONS: dict[int, tuple[int, dict]] = {}  # pk -> (version, definition): a version's rows never change


class _Protocols:
    """Effective protocols, built once per (version, overrides) pair. Protocol versions are immutable rows, kept
    per process once read: no query at all once the versions in use are known."""

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


def _episode_facts(*, patient_ids: list[int]) -> dict:
    """One query: the current episode (the open one, else the latest) of each patient, with its protocol, newest
    prescription, newest check-in, bed rest, newest reminder sent and the earliest reminder still to send, and
    the patient's newest check-in id."""
    current = Episode.objects.filter(patient=OuterRef("patient_id")).order_by("status", "-onset").values("pk")[:1]
    newest_prescription = Prescription.objects.filter(episode=OuterRef("pk")).order_by("-created_at", "-id")
    newest_checkin = CheckIn.objects.filter(episode=OuterRef("pk")).order_by("-occurred_at", "-id")
    rest_closed = (
        RestPeriod.objects.filter(episode=OuterRef("pk"), stopped_at__isnull=False)
        .order_by()
        .annotate(_g=Value(1))
        .values("_g")
        .annotate(
            total=Sum(ExpressionWrapper(F("stopped_at") - F("started_at"), output_field=DurationField())),
        )
        .values("total")
    )
    reminders = Reminder.objects.filter(episode=OuterRef("pk"))
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
            pending_due=Subquery(
                reminders.filter(status__in=(Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED))
                .order_by("due_at")
                .values("due_at")[:1]
            ),
        )
    )
    fields = ("id", "patient_id", "onset", "status", "resolved_at", "protocol_version_id", "overrides")
    rows = {}
    for row in _dicts(
        episodes.values(
            *fields,
            "last_checkin_at",
            "last_pain",
            "checkin_mark",
            "rest_closed",
            "rest_open",
            "last_sent",
            "pending_due",
        )
    ):
        row["overrides"] = _json(row["overrides"])
        rows[row["patient_id"]] = SimpleNamespace(**row)
    return rows


def _day_rows(*, ids: list, zones: set[str], now: datetime) -> list[tuple]:
    """One query: (source, episode, local day, a, b, c) for
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
        Reminder.objects.filter(episode_id__in=ids, due_at__gte=since, due_at__lte=now)
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
    return _tuples(combined.values_list("src", "episode_id", "day", "a", "b", "c"))


def _summaries_compute(*, stale: list[tuple[int, str, int]], now: datetime) -> tuple[dict[int, dict[str, Any]], int]:
    """Summaries of the patients `stale` names, as (patient id, zone, the revision read before), computed from
    the data in three queries for the patient's local day at `now`, and stored for the next read. Returns their
    data by patient and how many were stored."""
    facts = _episode_facts(patient_ids=[patient_id for patient_id, _, _ in stale])
    ids = [fact.id for fact in facts.values()]
    days: dict[Any, dict[int, list[int]]] = defaultdict(dict)
    nsaid: dict[Any, int] = defaultdict(int)
    flags: dict[Any, list[list]] = defaultdict(list)
    if ids:
        for source, episode_id, day, a, b, c in _day_rows(ids=ids, zones={z for _, z, _ in stale}, now=now):
            if source == "nsaid":
                nsaid[episode_id] = a
                continue
            bucket = days[episode_id].setdefault(day.toordinal(), [0, 0, 0, 0, 0, 0])
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
            flags[episode_id].append([level, at.isoformat()])
    protocols = _Protocols(facts.values()) if facts else None
    out, stored = {}, []
    for patient_id, zone_key, revision in stale:
        zone = ZoneInfo(zone_key)
        today = now.astimezone(zone).date()
        fact = facts.get(patient_id)
        data: dict[str, Any] = {"e": None}
        summary = dict.fromkeys(_RANK_COLUMNS)
        summary.update(episode_open=False, rank_not_improving=0, rank_active=0)
        if fact is not None:
            protocol = protocols.of(fact)
            data.update(_episode_signals(fact, protocol, zone))
            data["nd"], data["fl"] = nsaid[fact.id], flags[fact.id]
            data["ad"], data["p7"], data["ni"] = _day_signals(
                fact, days[fact.id], protocol, zone, today.toordinal(), now
            )
            data["tr"] = _trend([mean for mean in data["p7"] if mean is not None])
            summary.update(_rank_columns(fact, data))
        out[patient_id] = data
        expiry = [now + MAX_AGE, local_day_bounds(day=today, zone=zone)[1]]
        if fact is not None and fact.pending_due is not None:
            expiry.append(fact.pending_due)
        summary.update(
            patient_id=patient_id,
            revision=revision,
            computed_at=now,
            valid_until=fact.pending_due if fact is not None else None,
            expires_at=min(expiry),
            zone=zone_key,
            fmt=SUMMARY_FORMAT,
            checkin_mark=(fact.checkin_mark or 0) if fact is not None else 0,
            data=data,
        )
        stored.append(summary)
    return out, triage_summaries_store(summaries=stored)


_RANK_COLUMNS = ("episode_id", "onset", "resolved_at", "rest_over_at", "last_checkin_at", "last_delivery_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rank_columns(fact: SimpleNamespace, data: dict[str, Any]) -> dict[str, Any]:
    """What the database ranks by: the reasons of TriageRow._score that need neither the clock nor the link, and
    the instants at which the others change."""
    acute_hours, rest_cap_hours, nsaid_flag_day = data["pr"]
    active = []
    if data["tr"] == "worsening":
        active.append("pain_worsening")
    if data["nd"] >= nsaid_flag_day:
        active.append("nsaid_days")
    if data["lp"] is not None and data["lp"] >= HIGH_PAIN:
        active.append("high_pain")
    done, planned = data["ad"][0], data["ad"][1]
    if planned >= MIN_PLANNED_FOR_ADHERENCE and round(min(1.0, done / planned), 2) < LOW_ADHERENCE:
        active.append("low_adherence")
    rest_over_at = None  # rest > cap once now passes it (never without a rest running)
    if data["rc"] > rest_cap_hours * 3600:
        rest_over_at = _EPOCH
    elif fact.rest_open is not None:
        rest_over_at = fact.rest_open + timedelta(seconds=rest_cap_hours * 3600 - data["rc"])
    not_improving = 0
    if data["ni"] is not None:
        not_improving = WEIGHTS["not_improving_day14" if data["ni"] >= 14 else "not_improving_day7"]
    return {
        "episode_id": fact.id,
        "episode_open": fact.status == Episode.Status.OPEN,
        "onset": fact.onset,
        "resolved_at": fact.resolved_at,
        "rank_not_improving": not_improving,
        "rank_active": sum(WEIGHTS[reason] for reason in active),
        "rest_over_at": rest_over_at,
        "last_checkin_at": fact.last_checkin_at,
        "last_delivery_at": fact.last_sent,
    }


def _episode_signals(fact: SimpleNamespace, protocol: Protocol, zone: ZoneInfo) -> dict:
    return {
        "e": str(fact.id),
        "on": fact.onset.isoformat(),
        "o1": fact.onset.astimezone(zone).date().toordinal(),
        "st": fact.status,
        "ra": _iso(fact.resolved_at),
        "lc": _iso(fact.last_checkin_at),
        "lp": fact.last_pain,
        "ld": _iso(fact.last_sent),
        "rc": fact.rest_closed.total_seconds() if fact.rest_closed else 0.0,
        "ro": _iso(fact.rest_open),
        "pr": [protocol.acute_hours, protocol.rest_cap_hours, protocol.nsaid_flag_day],
    }


def _day_signals(fact, days: dict[int, list[int]], protocol: Protocol, zone: ZoneInfo, today: int, now: datetime):
    """Adherence over the last seven local days (today included), pain means of the last seven, and the day of
    the review at which pain is not improving (the first days against the last eight), if it is not."""
    first = fact.onset.astimezone(zone).date().toordinal()
    pain: dict[int, tuple[int, int]] = {}
    adherence = [0, 0, 0, 0]
    for ordinal, (checkins, pain_sum, *counts) in days.items():
        if ordinal > today:
            continue
        if checkins and (ordinal < first + FIRST_DAYS or ordinal >= today - 7):
            pain[ordinal] = (checkins, pain_sum)
        if ordinal > today - 7:
            adherence = [total + count for total, count in zip(adherence, counts, strict=True)]
    means = [round(pain[d][1] / pain[d][0], 2) if d in pain else None for d in range(today - 6, today + 1)]
    day_number = today - first + 1
    resolved = fact.resolved_at is not None and fact.resolved_at <= now
    not_improving_day = None
    if not resolved and day_number >= min(protocol.review_days) and _not_improving(pain):
        not_improving_day = max(d for d in protocol.review_days if d <= day_number)
    return adherence, means, not_improving_day


def _not_improving(days: dict[int, tuple[int, int]]) -> bool:
    """The engine's rule: the mean of the last two check-in days is no better than that of the first two."""
    ordered = sorted(days)
    if len(ordered) < 3:
        return False

    def mean(chosen: list[int]) -> float:
        return sum(days[d][1] for d in chosen) / sum(days[d][0] for d in chosen)

    return mean(ordered[-2:]) >= mean(ordered[:2])


def _trend(means: list[float]) -> str | None:
    if len(means) < 2:
        return None
    head, tail = means[:2], means[-2:]
    delta = sum(tail) / len(tail) - sum(head) / len(head)
    if delta <= -1:
        return "improving"
    if delta >= 1:
        return "worsening"
    return "stable"


def _stale(links: list, now: datetime, today: dict[str, int]) -> list[tuple[int, str, int]]:
    """(patient id, zone, revision read) of the links whose summary is missing or out of date; `today` collects
    each zone's local day (an ordinal) at `now`."""
    stale = []
    for link in links:
        if link.zone not in today:
            today[link.zone] = now.astimezone(ZoneInfo(link.zone)).date().toordinal()
        if not _fresh(link, now):
            stale.append((link.patient_id, link.zone, link.s_revision or 0))
    return stale


def triage_rows(*, physiotherapist: User, now: datetime | None = None, search: str | None = None) -> list[TriageRow]:
    """Every patient visible to the physiotherapist with the signals of their current episode, sorted by need."""
    now = now or timezone.now()
    links = _link_rows(physiotherapist=physiotherapist, search=search)
    today: dict[str, int] = {}
    stale = _stale(links, now, today)
    computed = _summaries_compute(stale=stale, now=now)[0] if stale else {}
    zones = {key: (ZoneInfo(key), date.fromordinal(ordinal)) for key, ordinal in today.items()}
    rows = []
    for link in links:
        zone, local_today = zones[link.zone]
        rows.append(TriageRow(link, zone, local_today, now, computed.get(link.patient_id) or link.s_data))
    rows.sort(key=lambda r: r.sort_key)
    return rows


def triage_summaries_refresh(*, now: datetime | None = None, batch: int = 200) -> int:
    """Compute the summaries that are out of date for every patient some physiotherapist follows, so that a
    read rarely has to (beat runs it every minute: a new local day, a reminder come due, a write). Returns how
    many were computed."""
    now = now or timezone.now()
    links = _with_summary(CareLink.objects.filter(status=CareLink.Status.ACTIVE, patient__is_active=True))
    stale = {}
    for patient_id, zone, revision in _tuples(
        links.filter(_stale_q(now)).order_by("patient_id").values_list("patient_id", "zone", "s_revision")
    ):
        stale[patient_id] = (patient_id, zone or "UTC", revision or 0)
    chosen = list(stale.values())
    for start in range(0, len(chosen), batch):
        _summaries_compute(stale=chosen[start : start + batch], now=now)
    return len(chosen)


def _need(now: datetime) -> Any:
    """TriageRow._score as one SQL expression over the stored summary, the link and the devices, so the database
    ranks the queue and only the rows of a page reach Python (which scores them again: they must agree)."""
    summary = "patient__triage_summary__"
    weight = WEIGHTS

    def when(*cases: tuple[Q, int]) -> Case:
        return Case(
            *(When(condition, then=Value(points)) for condition, points in cases),
            default=Value(0),
            output_field=IntegerField(),
        )

    # Open red flags since the last review, weighed in one pass: every emergency counts, urgent and soon once.
    flags = (
        RedFlagEvent.objects.filter(
            episode_id=OuterRef(f"{summary}episode_id"),
            alert_physiotherapist=True,
            occurred_at__gt=OuterRef("reviewed_or_never"),
        )
        .order_by()
        .annotate(_g=Value(1))
        .values("_g")
        .annotate(
            points=Sum(when((Q(level=RedFlagLevel.EMERGENCY), weight["redflag_emergency"])))
            + Max(when((Q(level=RedFlagLevel.URGENT), weight["redflag_urgent"])))
            + Max(when((Q(level=RedFlagLevel.SOON), weight["redflag_soon"])))
        )
        .values("points")
    )
    quiet = now - SILENCE
    silent = Q(**{f"{summary}onset__lte": quiet}, consented_at__lte=quiet)
    active = Q(**{f"{summary}onset__isnull": False}) & (
        Q(**{f"{summary}resolved_at__isnull": True}) | Q(**{f"{summary}resolved_at__gt": now})
    )
    no_device = Q(device_webpush=False, device_fcm=False, device_apns=False)
    checkin_quiet = Q(**{f"{summary}last_checkin_at__isnull": True}) | Q(**{f"{summary}last_checkin_at__lte": quiet})
    delivery_quiet = Q(**{f"{summary}last_delivery_at__isnull": True}) | Q(**{f"{summary}last_delivery_at__lte": quiet})
    while_active = (
        F(f"{summary}rank_active")
        + when((Q(**{f"{summary}rest_over_at__lt": now}), weight["rest_over_cap"]))
        + when((silent & checkin_quiet, weight["no_checkin_48h"]))
        # One CASE, so the devices are looked up once: no device, else no delivery for 48 h.
        + when((no_device, weight["no_active_device"]), (silent & delivery_quiet, weight["no_delivery_48h"]))
    )
    return {
        "reviewed_or_never": Coalesce(F("last_reviewed_at"), Value(_EPOCH, output_field=DateTimeField())),
        "need": Case(
            When(**{f"{summary}episode_open": True}, then=Coalesce(Subquery(flags), Value(0))),
            default=Value(0),
            output_field=IntegerField(),
        )
        + F(f"{summary}rank_not_improving")
        + Case(When(active, then=while_active), default=Value(0), output_field=IntegerField()),
    }


def _after_q(after: TriageCursor) -> Q:
    """Rows that sort after the cursor: need descending, last review ascending (never first), patient id."""
    if after.reviewed is None:
        same_need = Q(last_reviewed_at__isnull=False) | Q(
            last_reviewed_at__isnull=True, patient_id__gt=after.patient_id
        )
    else:
        reviewed = datetime.fromtimestamp(after.reviewed, UTC)
        same_need = Q(last_reviewed_at__gt=reviewed) | Q(last_reviewed_at=reviewed, patient_id__gt=after.patient_id)
    return Q(need__lt=after.need) | (Q(need=after.need) & same_need)


class RankDisagrees(AssertionError):
    """The database and TriageRow scored a patient differently: a bug in one of them."""


# Building these queries costs more than running them: on PostgreSQL each shape is compiled once with stand-in
# values, and a read swaps its own values in (as recovery.timeline.selectors does).
_STAND_INS = {
    # Inside 32-bit integers: Django answers a lookup outside its field's range without asking the database.
    "physio": -1_919_004_217,
    "now": datetime(1901, 1, 1, 0, 0, 1, tzinfo=UTC),
    "quiet": datetime(1901, 1, 1, 0, 0, 1, tzinfo=UTC) - SILENCE,
    "need": -1_919_004_218,
    "reviewed": datetime(1901, 1, 1, 0, 0, 3, tzinfo=UTC),
    "after_patient": -1_919_004_219,
}
_COMPILED: dict[tuple, tuple[str, tuple]] = {}


def _ranked_queries(*, physio: User | int, now: datetime, after: TriageCursor | None, limit: int):
    """The two queries of a ranked page: the links whose summary is out of date, and the page itself."""
    physiotherapist = physio if isinstance(physio, User) else User(pk=physio, role=Role.PHYSIOTHERAPIST)
    links = _links(physiotherapist=physiotherapist, search=None)
    stale = links.filter(_stale_q(now)).values_list("patient_id", "zone", "s_revision")
    ranked = _shown(links.annotate(**_need(now))).order_by(
        F("need").desc(), F("last_reviewed_at").asc(nulls_first=True), "patient_id"
    )
    if after is not None:
        ranked = ranked.filter(_after_q(after))
    return stale, ranked.values_list(*_LINK_COLUMNS, "need")[: limit + 1]


def _run(query) -> list[tuple]:
    """Rows of a values_list() queryset (through the ORM's converters), or of compiled (sql, params)."""
    if not isinstance(query, tuple):
        return list(query)
    sql, params = query
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _compiled(shape: tuple, build) -> tuple[tuple[str, tuple], ...]:
    """The (sql, params) of the querysets build() makes with the stand-ins, compiled once per shape."""
    if shape not in _COMPILED:
        if len(_COMPILED) >= 64:  # shapes are few; never let odd ones pile up
            _COMPILED.clear()
        _COMPILED[shape] = tuple((sql, tuple(params)) for sql, params in (q.query.sql_with_params() for q in build()))
    return _COMPILED[shape]


def _swap(compiled: tuple, actual: dict) -> tuple[tuple[str, list], ...]:
    """The compiled queries with this read's values in place of the stand-ins."""
    return tuple(
        (sql, [actual.get(value, value) if hashable(value) else value for value in template])
        for sql, template in compiled
    )


def _ranked_sql(*, physiotherapist: User, now: datetime, after: TriageCursor | None, limit: int):
    if connection.vendor != "postgresql":
        return _ranked_queries(physio=physiotherapist, now=now, after=after, limit=limit)
    stand_in_after = None
    if after is not None:
        reviewed = None if after.reviewed is None else _STAND_INS["reviewed"].timestamp()
        stand_in_after = TriageCursor(_STAND_INS["need"], reviewed, _STAND_INS["after_patient"])
    compiled = _compiled(
        ("ranked", after is None, after is not None and after.reviewed is None, limit),
        lambda: _ranked_queries(physio=_STAND_INS["physio"], now=_STAND_INS["now"], after=stand_in_after, limit=limit),
    )
    actual = {_STAND_INS["physio"]: physiotherapist.pk, _STAND_INS["now"]: now, _STAND_INS["quiet"]: now - SILENCE}
    if after is not None:
        actual[_STAND_INS["need"]] = after.need
        actual[_STAND_INS["after_patient"]] = after.patient_id
        if after.reviewed is not None:
            actual[_STAND_INS["reviewed"]] = datetime.fromtimestamp(after.reviewed, UTC)
    return _swap(compiled, actual)


def _triage_page_ranked(*, physiotherapist: User, after: TriageCursor | None, limit: int, now: datetime):
    """The queue's page ranked by the database (None if a summary could not be stored: rank in Python then)."""
    stale_query, ranked_query = _ranked_sql(physiotherapist=physiotherapist, now=now, after=after, limit=limit)
    stale = [(patient_id, zone or "UTC", revision or 0) for patient_id, zone, revision in _run(stale_query)]
    if stale and _summaries_compute(stale=stale, now=now)[1] != len(stale):
        return None  # a write moved a summary meanwhile: this once, rank in Python
    zones: dict[str, tuple[ZoneInfo, date]] = {}
    rows = []
    for raw in _run(ranked_query):
        link = _Link(raw)
        if link.zone not in zones:
            zone = ZoneInfo(link.zone)
            zones[link.zone] = (zone, now.astimezone(zone).date())
        row = TriageRow(link, *zones[link.zone], now, link.s_data)
        if row.need != raw[-1]:
            message = f"patient {link.patient_id}: need {raw[-1]} in SQL, {row.need} in Python ({row.reasons})"
            if settings.DEBUG or getattr(settings, "BACKCARE_TRIAGE_RANK_STRICT", False):
                raise RankDisagrees(message)
            logger.error("triage ranking disagrees: %s", message)
        rows.append(row)
    page = rows[:limit]
    return TriagePage(page, TriageCursor.of(page[-1]) if len(rows) > limit else None)


def triage_page(
    *,
    physiotherapist: User,
    after: TriageCursor | None = None,
    limit: int = 50,
    phase: str | None = None,
    reasons: set[str] | None = None,
    search: str | None = None,
    now: datetime | None = None,
) -> TriagePage:
    """One page of the queue, after `after`, optionally only one phase or patients with any of `reasons`.

    Unfiltered, the database ranks it from the stored summaries and only the page is scored in Python; a filter
    or a search ranks every row in Python (the same TriageRow)."""
    now = now or timezone.now()
    if phase is None and not reasons and not search:
        page = _triage_page_ranked(physiotherapist=physiotherapist, after=after, limit=limit, now=now)
        if page is not None:
            return page
    rows = triage_rows(physiotherapist=physiotherapist, now=now, search=search)
    if phase is not None:
        rows = [row for row in rows if row.phase == phase]
    if reasons:
        rows = [row for row in rows if reasons & set(row.reasons)]
    if after is not None:
        key = after.key()
        rows = [row for row in rows if row.sort_key > key]
    page = rows[:limit]
    return TriagePage(page, TriageCursor.of(page[-1]) if len(rows) > limit else None)
