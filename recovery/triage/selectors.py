"""The physiotherapist's triage queue: every visible patient, what needs attention, sorted by need.

Each patient's signals live in a stored summary (recovery.triage.summaries); one that is missing or out of date
is computed again, for all such patients at once, and stored (recovery.triage.services), so a read is a handful
of queries whatever the number of patients.

An unfiltered page is ranked by the database (recovery.triage.score.need_sql), ordered and cut to the page with
a keyset cursor, so only the page's rows reach Python, where TriageRow scores them again: they must agree. A
filter (phase, reason) or a search ranks every row in Python with the same TriageRow.
"""

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from backcare.accounts.models import Role, User
from backcare.core.pagination import keyset_decode, keyset_encode
from backcare.push.capabilities import push_kinds_enabled
from backcare.push.devices import DEVICE_MODELS
from recovery.care.selectors import care_links_active_for
from recovery.triage.rows import TriageRow
from recovery.triage.score import SILENCE, need_sql
from recovery.triage.services import triage_summaries_compute
from recovery.triage.signals import instant
from recovery.triage.sql import json_value, query_compile, query_run, query_swap, queryset_tuples
from recovery.triage.summaries import links_with_summary, summary_fresh, summary_stale_q

logger = logging.getLogger(__name__)


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

    @classmethod
    def cut(cls, rows: list[TriageRow], limit: int) -> "TriagePage":
        """The first `limit` of `rows`, and a cursor if there are more."""
        page = rows[:limit]
        return cls(page, TriageCursor.of(page[-1]) if len(rows) > limit else None)


# --- the queue's links: one row per patient, with the summary and what TriageRow reads ----------------------------

_SUMMARY = ("checkin_mark", "s_revision", "s_computed", "s_zone", "s_fmt", "s_mark", "s_at", "s_expires")
_SUMMARY += ("s_data", "zone")
_LINK_COLUMNS = ("id", "patient_id", "status", *_SUMMARY, "device_webpush", "device_fcm", "device_apns")
_LINK_COLUMNS += ("display_name", "email", "consented", "ended", "reviewed")


class _Link:
    """One row of the queue's query (_LINK_COLUMNS): the care link, its patient, the patient's stored summary."""

    __slots__ = ("id", "patient_id", "status", *_SUMMARY, "device_webpush", "device_fcm", "device_apns")
    __slots__ += ("display_name", "email", "consented_at", "ended_at", "last_reviewed_at")

    def __init__(self, row: tuple):
        self.id, self.patient_id, self.status, self.checkin_mark, self.s_revision, self.s_computed = row[:6]
        self.s_zone, self.s_fmt, self.s_mark = row[6:9]
        self.s_at, self.s_expires = instant(row[9]), instant(row[10])
        self.s_data, self.zone = json_value(row[11]), row[12] or "UTC"
        self.device_webpush, self.device_fcm, self.device_apns, self.display_name, self.email = row[13:18]
        # As text: datetime.fromisoformat is several times cheaper than the driver's loader.
        self.consented_at, self.ended_at, self.last_reviewed_at = instant(row[18]), instant(row[19]), instant(row[20])


def _reachable() -> tuple[str, ...]:
    """The device kinds that count (part of the compiled queries' keys: the SQL differs)."""
    return tuple(kind for kind, on in push_kinds_enabled().items() if on)


def _links(*, physiotherapist: User, search: str | None):
    """The visible links, each with its patient, whether a device is active, and the patient's summary.
    A device of a kind this server cannot deliver to (FCM or APNs not configured) is no reachable device."""
    enabled = push_kinds_enabled()
    links = links_with_summary(care_links_active_for(physiotherapist=physiotherapist)).annotate(
        **{
            f"device_{kind}": Exists(model.objects.filter(user=OuterRef("patient_id"), active=True))
            if enabled[kind]
            else Value(False, output_field=BooleanField())
            for kind, model in DEVICE_MODELS.items()
        },
    )
    if search:
        links = links.filter(Q(patient__display_name__icontains=search) | Q(patient__email__icontains=search))
    return links


def _shown(links):
    """The link's columns that _Link reads besides the summary: the patient's name and the link's instants."""
    return links.annotate(
        display_name=F("patient__display_name"),
        email=F("patient__email"),
        consented=Cast("consented_at", TextField()),
        ended=Cast("ended_at", TextField()),
        reviewed=Cast("last_reviewed_at", TextField()),
    )


# Building these queries costs more than running them: on PostgreSQL each shape is compiled once with stand-in
# values (recovery.triage.sql), and a read swaps its own values in.
_STAND_INS = {
    # Inside 32-bit integers: Django answers a lookup outside its field's range without asking the database.
    "physio": -1_919_004_217,
    "now": datetime(1901, 1, 1, 0, 0, 1, tzinfo=UTC),
    "quiet": datetime(1901, 1, 1, 0, 0, 1, tzinfo=UTC) - SILENCE,
    "need": -1_919_004_218,
    "reviewed": datetime(1901, 1, 1, 0, 0, 3, tzinfo=UTC),
    "after_patient": -1_919_004_219,
}


def _physio(physio: User | int) -> User:
    return physio if isinstance(physio, User) else User(pk=physio, role=Role.PHYSIOTHERAPIST)


def _link_rows(*, physiotherapist: User, search: str | None) -> list[_Link]:
    # Plain values, not model instances: 500 rows of three models each would cost more than the query.
    def query(physio: User | int):
        return _shown(_links(physiotherapist=_physio(physio), search=search)).values_list(*_LINK_COLUMNS)

    if connection.vendor != "postgresql" or search is not None or not physiotherapist.is_physiotherapist:
        return [_Link(row) for row in queryset_tuples(query(physiotherapist))]
    compiled = query_compile(("links", *_reachable()), lambda: (query(_STAND_INS["physio"]),))
    (links,) = query_swap(compiled, {_STAND_INS["physio"]: physiotherapist.pk})
    return [_Link(row) for row in query_run(links)]


# --- ranked by Python: every row ---------------------------------------------------------------------------------


def _stale(links: list[_Link], now: datetime, today: dict[str, int]) -> list[tuple[int, str, int]]:
    """(patient id, zone, revision read) of the links whose summary is missing or out of date; `today` collects
    each zone's local day (an ordinal) at `now`."""
    stale = []
    for link in links:
        if link.zone not in today:
            today[link.zone] = now.astimezone(ZoneInfo(link.zone)).date().toordinal()
        if not summary_fresh(link, now):
            stale.append((link.patient_id, link.zone, link.s_revision or 0))
    return stale


def triage_rows(*, physiotherapist: User, now: datetime | None = None, search: str | None = None) -> list[TriageRow]:
    """Every patient visible to the physiotherapist with the signals of their current episode, sorted by need."""
    now = now or timezone.now()
    links = _link_rows(physiotherapist=physiotherapist, search=search)
    today: dict[str, int] = {}
    stale = _stale(links, now, today)
    computed = triage_summaries_compute(stale=stale, now=now)[0] if stale else {}
    zones = {key: (ZoneInfo(key), date.fromordinal(ordinal)) for key, ordinal in today.items()}
    rows = []
    for link in links:
        zone, local_today = zones[link.zone]
        rows.append(TriageRow(link, zone, local_today, now, computed.get(link.patient_id) or link.s_data))
    rows.sort(key=lambda r: r.sort_key)
    return rows


# --- ranked by the database: only the page -----------------------------------------------------------------------


class RankDisagrees(AssertionError):
    """The database and TriageRow scored a patient differently: a bug in one of them."""


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


def _ranked_queries(*, physio: User | int, now: datetime, after: TriageCursor | None, limit: int):
    """The two queries of a ranked page: the links whose summary is out of date, and the page with each need."""
    links = _links(physiotherapist=_physio(physio), search=None)
    stale = links.filter(summary_stale_q(now)).values_list("patient_id", "zone", "s_revision")
    ranked = _shown(links.annotate(**need_sql(now))).order_by(
        F("need").desc(), F("last_reviewed_at").asc(nulls_first=True), "patient_id"
    )
    if after is not None:
        ranked = ranked.filter(_after_q(after))
    return stale, ranked.values_list(*_LINK_COLUMNS, "need")[: limit + 1]


def _ranked_sql(*, physiotherapist: User, now: datetime, after: TriageCursor | None, limit: int):
    if connection.vendor != "postgresql":
        return _ranked_queries(physio=physiotherapist, now=now, after=after, limit=limit)
    stand_in_after = None
    if after is not None:
        reviewed = None if after.reviewed is None else _STAND_INS["reviewed"].timestamp()
        stand_in_after = TriageCursor(_STAND_INS["need"], reviewed, _STAND_INS["after_patient"])
    compiled = query_compile(
        ("ranked", after is None, after is not None and after.reviewed is None, limit, *_reachable()),
        lambda: _ranked_queries(physio=_STAND_INS["physio"], now=_STAND_INS["now"], after=stand_in_after, limit=limit),
    )
    actual = {_STAND_INS["physio"]: physiotherapist.pk, _STAND_INS["now"]: now, _STAND_INS["quiet"]: now - SILENCE}
    if after is not None:
        actual[_STAND_INS["need"]] = after.need
        actual[_STAND_INS["after_patient"]] = after.patient_id
        if after.reviewed is not None:
            actual[_STAND_INS["reviewed"]] = datetime.fromtimestamp(after.reviewed, UTC)
    return query_swap(compiled, actual)


def _ranked_rows(
    *, physiotherapist: User, after: TriageCursor | None, limit: int, now: datetime
) -> list[tuple[TriageRow, int]] | None:
    """Up to limit + 1 rows after `after` as the database ranks them, each with the need the database gave it
    (None if a summary could not be stored: rank in Python then)."""
    stale_query, ranked_query = _ranked_sql(physiotherapist=physiotherapist, now=now, after=after, limit=limit)
    stale = [(patient_id, zone or "UTC", revision or 0) for patient_id, zone, revision in query_run(stale_query)]
    if stale and triage_summaries_compute(stale=stale, now=now)[1] != len(stale):
        return None  # a write moved a summary meanwhile: this once, rank in Python
    zones: dict[str, tuple[ZoneInfo, date]] = {}
    rows = []
    for raw in query_run(ranked_query):
        link = _Link(raw)
        if link.zone not in zones:
            zone = ZoneInfo(link.zone)
            zones[link.zone] = (zone, now.astimezone(zone).date())
        rows.append((TriageRow(link, *zones[link.zone], now, link.s_data), raw[-1]))
    return rows


def _rank_check(row: TriageRow, need: int) -> None:
    """A second guard on recovery.triage.score: the page's needs as Python scores them must be the database's."""
    if row.need == need:
        return
    message = f"patient {row.link.patient_id}: need {need} in SQL, {row.need} in Python ({row.reasons})"
    if settings.DEBUG or getattr(settings, "BACKCARE_TRIAGE_RANK_STRICT", False):
        raise RankDisagrees(message)
    logger.error("triage ranking disagrees: %s", message)


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
        ranked = _ranked_rows(physiotherapist=physiotherapist, after=after, limit=limit, now=now)
        if ranked is not None:
            for row, need in ranked:
                _rank_check(row, need)
            return TriagePage.cut([row for row, _ in ranked], limit)
    rows = triage_rows(physiotherapist=physiotherapist, now=now, search=search)
    if phase is not None:
        rows = [row for row in rows if row.phase == phase]
    if reasons:
        rows = [row for row in rows if reasons & set(row.reasons)]
    if after is not None:
        key = after.key()
        rows = [row for row in rows if row.sort_key > key]
    return TriagePage.cut(rows, limit)
