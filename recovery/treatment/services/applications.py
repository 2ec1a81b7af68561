"""Ice and heat applications: start one (or record one made offline), stop it, close overdue ones."""

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Conflict, NotFound
from backcare.core.replay import Written, replay_or_conflict
from recovery.episodes.models import Episode
from recovery.protocol import engine
from recovery.protocol.definition import Protocol
from recovery.reminders.planning import replans_episode
from recovery.treatment.models import Application
from recovery.treatment.selectors import episode_protocol, episode_situation
from recovery.treatment.services.records import episode_for_write, instants_check
from recovery.treatment.services.running import (
    application_cap,
    application_end,
    applications_close_overdue,
    running_stop,
)


def applications_close_all_overdue(*, now: datetime) -> int:
    """Periodic sweep over every running application (the partial unique index keeps it cheap)."""
    return applications_close_overdue(applications=Application.objects.all(), now=now)


@replans_episode
def application_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    kind: str,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    episode_id: uuid.UUID | None = None,
) -> Written:
    """Start (or record) an ice or heat application under a client id; replay-safe.

    A new application must be allowed by the protocol at its start (phase, nothing running, the
    pause since the previous one passed) and must leave the pause before the next one when it is
    replayed out of order. One longer than its cap is closed at the cap and marked auto-closed.
    """
    now = timezone.now()
    start = started_at or now
    instants_check(start=start, stop=stopped_at, now=now)
    with transaction.atomic():
        existing = replay_or_conflict(
            Application.objects.select_for_update().filter(patient=patient, client_uuid=client_uuid).first(),
            # A replayed "start now" names no start: it matches the stored one.
            same=lambda app: app.kind == kind and (started_at is None or app.started_at == started_at),
            conflict={"id": ["This id was already used for a different application."]},
        )
        if existing is not None:
            if stopped_at is not None:
                running_stop(record=existing, stopped_at=stopped_at, now=now)
            return Written(existing, False)

        episode = episode_for_write(patient=patient, episode_id=episode_id, at=start, field="started_at")
        protocol = episode_protocol(episode=episode)
        applications_close_overdue(applications=Application.objects.filter(episode=episode), now=now, protocol=protocol)
        fields = _application_fitted(
            episode=episode, protocol=protocol, kind=kind, start=start, stop=stopped_at, now=now
        )
        try:
            with transaction.atomic():
                record = Application.objects.create(
                    patient=patient, episode=episode, client_uuid=client_uuid, kind=kind, started_at=start, **fields
                )
        except IntegrityError as exc:
            raise Conflict({"detail": "Another application is running; stop it first."}) from exc
    return Written(record, True)


def _application_fitted(
    *, episode: Episode, protocol: Protocol, kind: str, start: datetime, stop: datetime | None, now: datetime
) -> dict[str, Any]:
    """The stop of a new application (closed at its cap if need be), once the protocol allows it where it
    falls among those already recorded; 409 if it does not."""
    situation = episode_situation(episode=episode, now=start, protocol=protocol)
    earlier = tuple(a for a in situation.applications if a.start < start)
    # Judge the start as of its own instant, against what had happened before it.
    allowed = engine.plan(replace(situation, applications=earlier)).allowed[kind]
    if not allowed.ok:
        raise _refusal(allowed)
    cap = application_cap(kind=kind, started_at=start, protocol=protocol)
    stop, auto_closed = application_end(stop=stop, cap=cap, now=now)
    later = [a for a in situation.applications if a.start >= start]
    end = stop or cap
    if later and later[0].start < end + timedelta(minutes=protocol.off_min(kind)):
        raise Conflict(
            {
                "detail": "This application would overlap or crowd the next one recorded "
                f"at {later[0].start.isoformat()}: applications need a pause between them.",
            }
        )
    return {"stopped_at": stop, "auto_closed": auto_closed}


def _refusal(allowed: engine.Allowed) -> Conflict:
    detail: dict[str, Any] = {"detail": allowed.reason}
    if allowed.allowed_from is not None:
        detail["allowed_from"] = allowed.allowed_from.isoformat()
    return Conflict(detail)


@replans_episode
def application_stop(*, patient: User, client_uuid: uuid.UUID, stopped_at: datetime | None = None) -> Application:
    """Stop a running application now, or at the instant given (see running.py for replays and the cap)."""
    now = timezone.now()
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("episode__protocol_version")
            .filter(patient=patient, client_uuid=client_uuid)
            .first()
        )
        if app is None:
            raise NotFound("No such application.")
        if app.stopped_at is not None and stopped_at is None:
            raise Conflict({"detail": "This application is not running.", "stopped_at": app.stopped_at.isoformat()})
        return running_stop(record=app, stopped_at=stopped_at or now, now=now)
