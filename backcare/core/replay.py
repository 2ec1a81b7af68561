"""Writes under a client id: the same write again is a replay, other content under the same id is a conflict.

Offline clients name each record with an id of their own and may send the same write several times (a lost
answer, a queue replayed). The rule, for every such write: nothing stored under the id -> store it (201);
the same content stored -> answer the stored record (200, nothing written); other content stored -> 409,
as an id names one write forever. "The same content" is either a few fields compared by the caller or the
payload hash below, kept with records whose whole body must match.
"""

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from backcare.core.errors import Conflict

R = TypeVar("R")


class Written(NamedTuple):
    """A write's answer: the record, and whether this call stored it (201) or found it stored (200)."""

    record: Any
    created: bool


def payload_hash(content: Mapping[str, Any]) -> str:
    """sha256 of a write's canonical content: the same instant in any offset, 400 and 400.0 mg are equal.

    Stored with the record, so this must never change: a changed hash turns every later replay into a 409.
    """

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, Decimal):
            return str(value.quantize(Decimal("0.01")))
        return value

    canonical = {key: encode(value) for key, value in content.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def content_changed(what: str) -> dict[str, list[str]]:
    """The 409 body of a replay whose payload hash differs from the stored one."""
    return {"id": [f"This {what} id was already stored with different content; use a new id for a new {what}."]}


def replay_or_conflict(stored: R | None, *, same: Callable[[R], bool], conflict: dict[str, Any]) -> R | None:
    """The record stored under the client id if this write repeats it, None if none is stored.

    Raises Conflict(conflict) when one is stored and `same(stored)` says this write is another.
    """
    if stored is not None and not same(stored):
        raise Conflict(conflict)
    return stored


def replay_stored(client_id_rows: QuerySet, *, payload_hash: str, what: str) -> Any | None:
    """replay_or_conflict for records that keep their payload hash; `client_id_rows` selects the id's row."""
    return replay_or_conflict(
        client_id_rows.first(), same=lambda stored: stored.payload_hash == payload_hash, conflict=content_changed(what)
    )


def insert_once(create: Callable[[], R], *, replay: Callable[[], R | None]) -> Written:
    """Run `create` in a savepoint; if a unique constraint refuses it, the row another request stored
    meanwhile under the same id answers (`replay` finds it, or raises Conflict). No such row: the
    IntegrityError was about something else and is raised again.

    The common case (a new id) costs one INSERT: the earlier copy is looked for only when there is one.
    """
    try:
        with transaction.atomic():
            return Written(create(), True)
    except IntegrityError:
        stored = replay()
        if stored is None:
            raise
        return Written(stored, False)
