"""The stop of a running thing - an ice or heat application, or a rest period - written once.

Both run from a start until a stop. A stop comes after the start and not in the future. Sent again with the
same instant it is a replay; with another instant, a 409 - except that an application the server closed at
its cap takes an earlier real stop (queued offline, it is the truer end, and ending earlier crowds nothing).
An application never runs past its cap (the protocol's maximum on-time): a later stop ends it at the cap; none
once the cap has passed ends it there too, marked auto-closed (the server closed it: it may still be on, so its
"take it off" reminder stays owed until a real stop is reported). A rest period never runs past its episode's resolution.
"""

from datetime import datetime, timedelta
from typing import TypeVar

from django.db.models import QuerySet
from django.utils import timezone

from backcare.core.errors import Conflict, Invalid
from recovery.episodes.models import CLOCK_SKEW
from recovery.protocol.definition import Protocol
from recovery.treatment.models import Application, RestPeriod
from recovery.treatment.selectors import episode_protocol
from recovery.treatment.services.records import resolution_check

WHAT = {Application: "application", RestPeriod: "rest period"}
R = TypeVar("R", Application, RestPeriod)


def application_cap(*, kind: str, started_at: datetime, protocol: Protocol) -> datetime:
    """When an application started at `started_at` must end: the protocol's maximum on-time for its kind."""
    return started_at + timedelta(minutes=protocol.on_min(kind))


def application_end(*, stop: datetime | None, cap: datetime, now: datetime) -> tuple[datetime | None, bool]:
    """(stopped_at, auto_closed) of an application: its stop (clipped at the cap), or, still running once the
    cap has passed, the cap, auto-closed. Only that last one is closed by the server: a stop the patient
    reported says the application is off, so no "take it off" reminder is owed for it, however late it lands."""
    if stop is not None:
        return min(stop, cap), False
    if cap <= now:
        return cap, True
    return None, False


def running_stop(*, record: R, stopped_at: datetime, now: datetime) -> R:
    """Stop `record` at `stopped_at` (the caller holds its row lock), by the rules above."""
    if record.stopped_at is not None:
        return _stopped_again(record, stopped_at=stopped_at)
    if stopped_at <= record.started_at:
        raise Invalid({"stopped_at": ["Must be after started_at."]})
    if stopped_at > now + CLOCK_SKEW:
        raise Invalid({"stopped_at": ["Cannot be in the future."]})
    if isinstance(record, RestPeriod):
        resolution_check(record.episode, stopped_at=stopped_at)
        # Shrinking a running period cannot make it overlap: nothing is recorded after a running one's start.
        _save_stop(record, stopped_at)
    else:
        cap = application_cap(
            kind=record.kind, started_at=record.started_at, protocol=episode_protocol(episode=record.episode)
        )
        _save_stop(record, *application_end(stop=stopped_at, cap=cap, now=now))
    return record


def _stopped_again(record: R, *, stopped_at: datetime) -> R:
    closed_by_server = isinstance(record, Application) and record.auto_closed
    if closed_by_server and record.started_at < stopped_at:
        # The real stop, queued offline or tapped ("It's off"): the truer end (never past the cap), and the
        # application is known to be off, so its remove reminder is cancelled if it has not gone yet.
        _save_stop(record, min(stopped_at, record.stopped_at), auto_closed=False)
        return record
    if closed_by_server or record.stopped_at == stopped_at:
        return record  # a replayed stop, or one that arrived after the server closed it at its cap
    raise Conflict(
        {
            "detail": f"This {WHAT[type(record)]} was already stopped at another time.",
            "stopped_at": record.stopped_at.isoformat(),
        }
    )


def _save_stop(record: Application | RestPeriod, stopped_at: datetime, auto_closed: bool = False) -> None:
    record.stopped_at = stopped_at
    fields = ["stopped_at", "updated_at"]
    if isinstance(record, Application):
        record.auto_closed = auto_closed
        fields.append("auto_closed")
    record.save(update_fields=fields)


def applications_close_overdue(*, applications: QuerySet, now: datetime, protocol: Protocol | None = None) -> int:
    """Close each running application of `applications` whose cap has passed, at its cap (auto-closed).

    `protocol` is the one of their episode when the caller knows it; else each application's is read.
    The update is conditional, so a stop that lands meanwhile (the sweep holds no lock) wins.
    """
    closed = 0
    for app in applications.filter(stopped_at__isnull=True).select_related("episode__protocol_version"):
        cap = application_cap(
            kind=app.kind, started_at=app.started_at, protocol=protocol or episode_protocol(episode=app.episode)
        )
        stopped_at, auto_closed = application_end(stop=None, cap=cap, now=now)
        if auto_closed:
            closed += Application.objects.filter(pk=app.pk, stopped_at__isnull=True).update(
                stopped_at=stopped_at, auto_closed=True, updated_at=timezone.now()
            )
    return closed
