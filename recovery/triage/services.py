"""Writes to the triage summaries (recovery.TriageSummary): the services' bump, and the reader's store.

The revision makes the cache safe without locks between readers and writers. A reader notes the
revision before it reads the data the summary is made of, and stores its result only if the revision
is still the one it noted; a writer bumps the revision in the same transaction as its change (creating
the row if there is none, so a reader that saw no row cannot store a result that misses the change).
"""

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, connection, transaction

from recovery.triage.models import TriageSummary

logger = logging.getLogger(__name__)

_TABLE = TriageSummary._meta.db_table


def triage_summaries_touch(*, patient_ids: Iterable[int]) -> None:
    """Mark the patients' summaries out of date. Call it last in the write's transaction (after its other
    locks: a summary row is the last lock a writer takes, so writers and readers never wait in a cycle)."""
    ids = sorted({int(patient_id) for patient_id in patient_ids if patient_id is not None})
    if not ids:
        return
    values = ", ".join(["(%s, 1, '')"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (patient_id, revision, zone) VALUES {values} "  # noqa: S608 (fixed names, bound values)
            f"ON CONFLICT (patient_id) DO UPDATE SET revision = {_TABLE}.revision + 1",
            ids,
        )


_STORED = (
    "computed_at",
    "valid_until",
    "expires_at",
    "zone",
    "fmt",
    "checkin_mark",
    "data",
    "episode_id",
    "episode_open",
    "onset",
    "resolved_at",
    "rank_not_improving",
    "rank_active",
    "rest_over_at",
    "last_checkin_at",
    "last_delivery_at",
)


def triage_summaries_store(*, summaries: list[dict[str, Any]]) -> int:
    """Keep what a reader computed: each a dict of "patient_id", "revision" (as read before the data; 0 when there
    was no row) and the stored columns (`data` as a dict). A row whose revision moved meanwhile is left stale.
    Best effort: a failure (a lock conflict, say) costs a recomputation next time, never the reader's answer."""
    if not summaries:
        return 0
    fields = [TriageSummary._meta.get_field(name) for name in _STORED]
    rows, params = [], []
    for summary in sorted(summaries, key=lambda s: s["patient_id"]):  # key order: concurrent stores never deadlock
        rows.append("(" + ", ".join(["%s"] * (3 + len(fields))) + ")")
        params += [summary["patient_id"], summary["revision"], summary["revision"]]
        for field in fields:
            value = summary[field.name]
            if field.name == "data":
                value = json.dumps(value, separators=(",", ":"))
            params.append(field.get_db_prep_value(value, connection))
    columns = ", ".join(_STORED)
    updates = ", ".join(f"{name} = excluded.{name}" for name in ("computed_revision", *_STORED))
    sql = (
        f"INSERT INTO {_TABLE} (patient_id, revision, computed_revision, {columns}) "  # noqa: S608 (fixed names)
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
