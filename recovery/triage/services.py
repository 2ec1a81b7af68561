"""Writes to the triage summaries (recovery.TriageSummary): the services' bump, and computing and storing them.

The revision makes the cache safe without locks between readers and writers. A reader notes the
revision before it reads the data the summary is made of, and stores its result only if the revision
is still the one it noted; a writer bumps the revision in the same transaction as its change (creating
the row if there is none, so a reader that saw no row cannot store a result that misses the change).
"""

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from recovery.care.models import CareLink
from recovery.triage.facts import facts_fetch
from recovery.triage.models import TriageSummary
from recovery.triage.signals import SummaryData, signals_make
from recovery.triage.sql import queryset_tuples
from recovery.triage.summaries import STORED_COLUMNS, SummaryRow, links_with_summary, summary_row, summary_stale_q

logger = logging.getLogger(__name__)

_TABLE = TriageSummary._meta.db_table

# A patient whose summary is to be computed: (patient id, zone, the summary's revision read before the data).
Stale = tuple[int, str, int]


def triage_summaries_touch(*, patient_ids: Iterable[int]) -> None:
    """Mark the patients' summaries out of date. Call it last in the write's transaction (after its other
    locks: a summary row is the last lock a writer takes, so writers and readers never wait in a cycle)."""
    ids = sorted({int(patient_id) for patient_id in patient_ids if patient_id is not None})
    if not ids:
        return
    values = ", ".join(["(%s, 1, '')"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (patient_id, revision, zone) VALUES {values} "  # noqa: S608  # nosec B608  # fixed names, bound values
            f"ON CONFLICT (patient_id) DO UPDATE SET revision = {_TABLE}.revision + 1",
            ids,
        )


def triage_summaries_store(*, summaries: list[SummaryRow]) -> int:
    """Keep what a reader computed. A row whose revision moved since it was read is left stale. Best effort: a
    failure (a lock conflict, say) costs a recomputation next time, never the reader's answer."""
    if not summaries:
        return 0
    fields = [TriageSummary._meta.get_field(name) for name in STORED_COLUMNS]
    rows, params = [], []
    for summary in sorted(summaries, key=lambda s: s["patient_id"]):  # key order: concurrent stores never deadlock
        rows.append("(" + ", ".join(["%s"] * (3 + len(fields))) + ")")
        params += [summary["patient_id"], summary["revision"], summary["revision"]]
        for field in fields:
            value = summary[field.name]
            if field.name == "data":
                value = json.dumps(value, separators=(",", ":"))
            params.append(field.get_db_prep_value(value, connection))
    columns = ", ".join(STORED_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in ("computed_revision", *STORED_COLUMNS))
    sql = (
        f"INSERT INTO {_TABLE} (patient_id, revision, computed_revision, {columns}) "  # noqa: S608  # nosec B608  # fixed names; values bound
        f"VALUES {', '.join(rows)} ON CONFLICT (patient_id) DO UPDATE SET {updates} "
        f"WHERE {_TABLE}.revision = excluded.revision"
    )
    try:
        if not connection.in_atomic_block:  # one statement commits alone
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint, so a failure spares the caller's
            cursor.execute(sql, params)
            return cursor.rowcount
    except DatabaseError:
        logger.warning("triage summaries not stored; they are computed again next time", exc_info=True)
        return 0


def triage_summaries_compute(*, stale: list[Stale], now: datetime) -> tuple[dict[int, SummaryData], int]:
    """Compute the summaries of the `stale` patients from the data (three grouped queries, for each patient's local
    day at `now`) and store them for the next read. Returns the summaries by patient, and how many were stored."""
    facts = facts_fetch(patient_ids=[patient_id for patient_id, _, _ in stale], zones={z for _, z, _ in stale}, now=now)
    computed: dict[int, SummaryData] = {}
    rows = []
    for patient_id, zone, revision in stale:
        fact = facts.episodes.get(patient_id)
        data: SummaryData = {"episode": None}
        if fact is not None:
            data["episode"] = signals_make(
                fact=fact,
                protocol=facts.protocols.of(fact),
                zone=ZoneInfo(zone),
                days=facts.days[fact.id],
                nsaid_days=facts.nsaid_days[fact.id],
                red_flags=facts.red_flags[fact.id],
                now=now,
            )
        computed[patient_id] = data
        rows.append(summary_row(patient_id=patient_id, revision=revision, zone=zone, data=data, fact=fact, now=now))
    return computed, triage_summaries_store(summaries=rows)


def triage_summaries_refresh(*, now: datetime | None = None, batch: int = 200) -> int:
    """Compute the summaries that are out of date for every patient some physiotherapist follows, so that a
    read rarely has to (beat runs it every minute: a new local day, a reminder come due, a write). Returns how
    many were computed."""
    now = now or timezone.now()
    links = links_with_summary(CareLink.objects.filter(status=CareLink.Status.ACTIVE, patient__is_active=True))
    stale = {}
    for patient_id, zone, revision in queryset_tuples(
        links.filter(summary_stale_q(now)).order_by("patient_id").values_list("patient_id", "zone", "s_revision")
    ):
        stale[patient_id] = (patient_id, zone or "UTC", revision or 0)
    chosen = list(stale.values())
    for start in range(0, len(chosen), batch):
        triage_summaries_compute(stale=chosen[start : start + batch], now=now)
    return len(chosen)
