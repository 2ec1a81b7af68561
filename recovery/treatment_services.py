"""Writes for the protocol: loading versions, prescriptions, and closing overdue applications."""

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backcare.accounts.models import User
from backcare.core.api import Conflict

from .models import Application, Episode, Prescription, ProtocolVersion
from .protocol import engine
from .protocol.definition import ProtocolError, prescribe, protocol_from_dict, protocol_to_dict
from .services import CLOCK_SKEW
from .treatment_selectors import episode_protocol, episode_situation, protocol_version_current

PROTOCOL_SOURCE = Path(__file__).resolve().parent / "data" / "protocol_v1.json"


@transaction.atomic
def protocol_version_load(*, source: Path = PROTOCOL_SOURCE, model=ProtocolVersion) -> tuple[ProtocolVersion, bool]:
    """Load a protocol file. Unchanged: nothing happens. Changed without a new version: refused."""
    raw = source.read_bytes()
    definition = json.loads(raw)["protocol"]
    protocol = protocol_from_dict(definition)  # refuses anything outside the hard bounds
    normalised = protocol_to_dict(protocol)
    checksum = hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()
    existing = model.objects.select_for_update().filter(version=protocol.version).first()
    if existing is not None:
        if existing.checksum != checksum:
            raise ProtocolError(
                {"version": f"v{protocol.version} is already loaded with other values; bump the version"}
            )
        return existing, False
    return model.objects.create(version=protocol.version, definition=normalised, checksum=checksum), True


@transaction.atomic
def prescription_create(
    *, episode: Episode, overrides: dict[str, Any], author: User | None, note: str = ""
) -> Prescription:
    """Record a per-episode change to the protocol; refused if it leaves the hard safety bounds."""
    version = episode.protocol_version or protocol_version_current()
    prescribe(protocol_from_dict(version.definition), overrides)  # raises ProtocolError naming each field out of bounds
    return Prescription.objects.create(episode=episode, overrides=overrides, created_by=author, note=note)


def applications_close_overdue(*, episode: Episode, closures) -> int:
    """Persist the engine's auto-closures: a running application past its cap ends at the cap."""
    closed = 0
    for closure in closures:
        closed += Application.objects.filter(episode=episode, client_uuid=closure.key, stopped_at__isnull=True).update(
            stopped_at=closure.stop, auto_closed=True
        )
    return closed


def applications_close_all_overdue(*, now: datetime) -> int:
    """Periodic sweep over every running application (the partial unique index keeps it cheap)."""
    closed = 0
    for app in Application.objects.filter(stopped_at__isnull=True).select_related("episode__protocol_version"):
        cap = app.started_at + timedelta(minutes=episode_protocol(episode=app.episode).on_min(app.kind))
        if cap <= now:
            closed += Application.objects.filter(pk=app.pk, stopped_at__isnull=True).update(
                stopped_at=cap, auto_closed=True
            )
    return closed


# --- ice and heat applications ----------------------------------------------------------------


@dataclass(frozen=True)
class WriteResult:
    record: Any
    created: bool


def episode_for_write(*, patient: User, episode_id: uuid.UUID | None, at: datetime, field: str) -> Episode:
    """The episode a timed record belongs to, locked so writes to one episode are serialised."""
    qs = Episode.objects.select_for_update().filter(patient=patient)
    if episode_id is not None:
        episode = qs.filter(pk=episode_id).first()
        if episode is None:
            raise ValidationError({"episode": ["No such episode."]})
    else:
        episode = qs.filter(onset__lte=at + CLOCK_SKEW).order_by("-onset").first()
        if episode is None:
            raise ValidationError({"episode": ["You have no episode at that time; open one first."]})
    if at < episode.onset - CLOCK_SKEW:
        raise ValidationError({field: ["Cannot be before the episode's onset."]})
    return episode


def _check_instants(
    *, start: datetime, stop: datetime | None, now: datetime, start_field: str, stop_field: str
) -> None:
    errors = {}
    if start > now + CLOCK_SKEW:
        errors[start_field] = ["Cannot be in the future."]
    if stop is not None:
        if stop > now + CLOCK_SKEW:
            errors[stop_field] = ["Cannot be in the future."]
        elif stop <= start:
            errors[stop_field] = [f"Must be after {start_field}."]
    if errors:
        raise ValidationError(errors)


def _refusal(allowed: engine.Allowed) -> Conflict:
    detail: dict[str, Any] = {"detail": allowed.reason}
    if allowed.allowed_from is not None:
        detail["allowed_from"] = allowed.allowed_from.isoformat()
    return Conflict(detail)


def application_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    kind: str,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    episode_id: uuid.UUID | None = None,
) -> WriteResult:
    """Start (or record) an ice or heat application under a client id; replay-safe.

    A new application must be allowed by the protocol at its start (phase, nothing running, the
    pause since the previous one passed) and must leave the pause before the next one when it is
    replayed out of order. One longer than its cap is closed at the cap and marked auto-closed.
    """
    now = timezone.now()
    started_at = started_at or now
    _check_instants(start=started_at, stop=stopped_at, now=now, start_field="started_at", stop_field="stopped_at")
    with transaction.atomic():
        existing = Application.objects.select_for_update().filter(patient=patient, client_uuid=client_uuid).first()
        if existing is not None:
            if (existing.kind, existing.started_at) != (kind, started_at):
                raise Conflict({"id": ["This id was already used for a different application."]})
            if stopped_at is None:
                return WriteResult(existing, False)
            return WriteResult(_application_stop_locked(existing, stopped_at, now), False)

        episode = episode_for_write(patient=patient, episode_id=episode_id, at=started_at, field="started_at")
        protocol = episode_protocol(episode=episode)
        _close_overdue_locked(episode=episode, protocol=protocol, now=now)
        situation = episode_situation(episode=episode, now=started_at, protocol=protocol)
        earlier = tuple(a for a in situation.applications if a.start < started_at)
        # Judge the start as of its own instant, against what had happened before it.
        allowed = engine.plan(replace(situation, applications=earlier)).allowed[kind]
        if not allowed.ok:
            raise _refusal(allowed)
        cap = started_at + timedelta(minutes=protocol.on_min(kind))
        auto_closed = False
        if (stopped_at is not None and stopped_at > cap) or (stopped_at is None and cap <= now):
            stopped_at, auto_closed = cap, True
        end = stopped_at or cap
        later = [a for a in situation.applications if a.start >= started_at]
        if later:
            gap_needed = end + timedelta(minutes=protocol.off_min(kind))
            if later[0].start < gap_needed:
                raise Conflict(
                    {
                        "detail": "This application would overlap or crowd the next one recorded "
                        f"at {later[0].start.isoformat()}: applications need a pause between them.",
                    }
                )
        try:
            with transaction.atomic():
                record = Application.objects.create(
                    patient=patient,
                    episode=episode,
                    client_uuid=client_uuid,
                    kind=kind,
                    started_at=started_at,
                    stopped_at=stopped_at,
                    auto_closed=auto_closed,
                )
        except IntegrityError as exc:
            raise Conflict({"detail": "Another application is running; stop it first."}) from exc
    return WriteResult(record, True)


def _close_overdue_locked(*, episode: Episode, protocol, now: datetime) -> None:
    for app in Application.objects.filter(episode=episode, stopped_at__isnull=True):
        cap = app.started_at + timedelta(minutes=protocol.on_min(app.kind))
        if cap <= now:
            app.stopped_at, app.auto_closed = cap, True
            app.save(update_fields=["stopped_at", "auto_closed", "updated_at"])


def _application_stop_locked(app: Application, stopped_at: datetime, now: datetime) -> Application:
    if app.stopped_at is not None:
        if app.auto_closed or app.stopped_at == stopped_at:
            return app  # a replayed stop, or one that arrived after the server closed it at its cap
        raise Conflict(
            {
                "detail": "This application was already stopped at another time.",
                "stopped_at": app.stopped_at.isoformat(),
            }
        )
    if stopped_at <= app.started_at:
        raise ValidationError({"stopped_at": ["Must be after started_at."]})
    if stopped_at > now + CLOCK_SKEW:
        raise ValidationError({"stopped_at": ["Cannot be in the future."]})
    cap = app.started_at + timedelta(minutes=episode_protocol(episode=app.episode).on_min(app.kind))
    app.stopped_at, app.auto_closed = (cap, True) if stopped_at > cap else (stopped_at, False)
    app.save(update_fields=["stopped_at", "auto_closed", "updated_at"])
    return app


def application_stop(*, patient: User, client_uuid: uuid.UUID, stopped_at: datetime | None = None) -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("episode__protocol_version")
            .filter(patient=patient, client_uuid=client_uuid)
            .first()
        )
        if app is None:
            raise Http404("No such application.")
        if app.stopped_at is not None and stopped_at is None:
            raise Conflict({"detail": "This application is not running.", "stopped_at": app.stopped_at.isoformat()})
        return _application_stop_locked(app, stopped_at or now, now)
