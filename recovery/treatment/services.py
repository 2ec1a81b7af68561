"""Writes for the protocol: loading versions, prescriptions, and closing overdue applications."""

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backcare.accounts.models import User
from backcare.core.api import Conflict
from recovery.episodes.models import Episode
from recovery.episodes.services import CLOCK_SKEW
from recovery.protocol import engine
from recovery.protocol.definition import ProtocolError, prescribe, protocol_from_dict, protocol_to_dict
from recovery.reminders.planning import replans_episode
from recovery.treatment.models import (
    Activity,
    Application,
    MedicationClass,
    MedicationIntake,
    Prescription,
    ProtocolVersion,
    RestPeriod,
)
from recovery.treatment.selectors import episode_protocol, episode_situation, protocol_version_current

PROTOCOL_SOURCE = Path(__file__).resolve().parent.parent / "data" / "protocol_v1.json"


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
@replans_episode
def prescription_create(
    *, episode: Episode, overrides: dict[str, Any], author: User | None, note: str = ""
) -> Prescription:
    """Record a per-episode change to the protocol; refused if it leaves the hard safety bounds."""
    version = episode.protocol_version or protocol_version_current()
    prescribe(protocol_from_dict(version.definition), overrides)  # raises ProtocolError naming each field out of bounds
    return Prescription.objects.create(episode=episode, overrides=overrides, created_by=author, note=note)


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


@replans_episode
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
    sent_start = started_at  # a replayed "start now" names no start: it matches the stored one
    started_at = started_at or now
    _check_instants(start=started_at, stop=stopped_at, now=now, start_field="started_at", stop_field="stopped_at")
    with transaction.atomic():
        existing = Application.objects.select_for_update().filter(patient=patient, client_uuid=client_uuid).first()
        if existing is not None:
            if existing.kind != kind or (sent_start is not None and existing.started_at != sent_start):
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
        if app.auto_closed and app.started_at < stopped_at < app.stopped_at:
            # The real stop, queued offline, arrived after the server closed the application at its cap:
            # it is the truer end, and ending earlier cannot crowd the next application.
            app.stopped_at, app.auto_closed = stopped_at, False
            app.save(update_fields=["stopped_at", "auto_closed", "updated_at"])
            return app
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


@replans_episode
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


# --- rest, medication and walks ------------------------------------------------------------------
#
# All three are offline-safe writes under a client id. Rest periods follow application_put: a
# replay with the same start is answered with the stored record (and may carry its stop); walks
# and intakes follow checkin_put: the same body again is a replay (200), another body under the
# same id is a conflict (409). No two rest periods of an episode overlap, and neither do two walks:
# a record that would overlap one already stored is refused with the period it collides with.

# Sane single doses in mg, per class. They catch typing slips (a dose in micrograms, a decimal point
# lost), not prescriptions: the lowest and highest single doses on the market for each class.
DOSE_RANGES_MG: dict[str, tuple[Decimal, Decimal]] = {
    MedicationClass.NSAID: (Decimal("1"), Decimal("1000")),  # low-dose aspirin 75 mg ... naproxen 1000 mg
    MedicationClass.ACETAMINOPHEN: (Decimal("1"), Decimal("1300")),  # ... 1300 mg extended release
    MedicationClass.MUSCLE_RELAXANT: (Decimal("0.5"), Decimal("1500")),  # tizanidine 2 mg ... methocarbamol 1500 mg
    MedicationClass.OPIOID: (Decimal("0.5"), Decimal("300")),  # hydromorphone 2 mg ... tramadol 300 mg
    MedicationClass.OTHER: (Decimal("0.1"), Decimal("5000")),
}
ACTIVITY_MAX_MINUTES = 600


def _payload_hash(data: dict[str, Any]) -> str:
    """sha256 of a write's canonical content: the same instant in any offset, 400 and 400.0 mg are equal."""

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, Decimal):
            return str(value.quantize(Decimal("0.01")))
        return value

    canonical = {key: encode(value) for key, value in data.items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _stored_replay(model, *, patient: User, client_uuid: uuid.UUID, payload_hash: str, what: str):
    """The record already stored under this client id (a replay), None if there is none; 409 if it differs."""
    existing = model.objects.filter(patient=patient, client_uuid=client_uuid).first()
    if existing is not None and existing.payload_hash != payload_hash:
        raise Conflict(
            {"id": [f"This {what} id was already stored with different content; use a new id for a new {what}."]}
        )
    return existing


def _insert_once(
    model, *, patient: User, client_uuid: uuid.UUID, payload_hash: str, what: str, **fields
) -> WriteResult:
    try:
        with transaction.atomic():
            record = model.objects.create(patient=patient, client_uuid=client_uuid, payload_hash=payload_hash, **fields)
    except IntegrityError:
        # The same id stored meanwhile by a concurrent request (into another episode, or a replay).
        existing = _stored_replay(model, patient=patient, client_uuid=client_uuid, payload_hash=payload_hash, what=what)
        if existing is None:
            raise
        return WriteResult(existing, False)
    return WriteResult(record, True)


def _refuse_after_resolution(episode: Episode, **instants: datetime | None) -> None:
    """Nothing is recorded in a resolved episode after its resolution."""
    if episode.resolved_at is None:
        return
    limit = episode.resolved_at + CLOCK_SKEW
    errors = {
        name: [f"Cannot be after the episode was resolved ({episode.resolved_at.isoformat()})."]
        for name, at in instants.items()
        if at is not None and at > limit
    }
    if errors:
        raise ValidationError(errors)


def _overlap(what: str, other_id: uuid.UUID, start: datetime, stop: datetime | None) -> Conflict:
    until = stop.isoformat() if stop is not None else "now (it is still running)"
    overlaps = {"id": str(other_id), "started_at": start.isoformat()}
    if stop is not None:
        overlaps["stopped_at"] = stop.isoformat()
    return Conflict(
        {
            "detail": f"This {what} overlaps the one recorded from {start.isoformat()} to {until}; "
            f"{what}s cannot overlap.",
            "overlaps": overlaps,
        }
    )


def _rest_overlapping(*, episode: Episode, start: datetime, stop: datetime | None) -> RestPeriod | None:
    """The earliest rest period of the episode sharing time with [start, stop); a running one lasts until now and on."""
    qs = RestPeriod.objects.filter(episode=episode).filter(Q(stopped_at__isnull=True) | Q(stopped_at__gt=start))
    if stop is not None:
        qs = qs.filter(started_at__lt=stop)
    return qs.order_by("started_at", "id").first()


def _rest_by_id(*, patient: User, client_uuid: uuid.UUID) -> RestPeriod | None:
    return (
        RestPeriod.objects.select_for_update(of=("self",))
        .select_related("episode")
        .filter(patient=patient, client_uuid=client_uuid)
        .first()
    )


def _rest_replay(
    existing: RestPeriod,
    *,
    started_at: datetime | None,
    stopped_at: datetime | None,
    episode_id: uuid.UUID | None,
    now: datetime,
) -> WriteResult:
    """A PUT under an id already stored: the same rest (a replay, possibly with its stop), or a conflict."""
    if (started_at is not None and existing.started_at != started_at) or (
        episode_id is not None and existing.episode_id != episode_id
    ):
        raise Conflict({"id": ["This id was already used for a different rest period."]})
    if stopped_at is None:
        return WriteResult(existing, False)
    return WriteResult(_rest_stop_locked(existing, stopped_at, now), False)


@replans_episode
def rest_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    episode_id: uuid.UUID | None = None,
) -> WriteResult:
    """Start bed rest now, or record one made offline (with its stop); replay-safe.

    A replay (same id, and the same start when it names one) answers the stored period and may
    stop it. A new period that would overlap one already recorded, a running one included, is
    refused with 409 naming it: an offline queue replayed out of order is merged in time order
    where it fits and refused where it does not, never stored overlapping.
    """
    now = timezone.now()
    start = started_at or now
    _check_instants(start=start, stop=stopped_at, now=now, start_field="started_at", stop_field="stopped_at")
    with transaction.atomic():
        existing = _rest_by_id(patient=patient, client_uuid=client_uuid)
        if existing is None:
            episode = episode_for_write(patient=patient, episode_id=episode_id, at=start, field="started_at")
            # A concurrent request with the same id may have stored it while this one waited for the episode.
            existing = _rest_by_id(patient=patient, client_uuid=client_uuid)
        if existing is not None:
            return _rest_replay(existing, started_at=started_at, stopped_at=stopped_at, episode_id=episode_id, now=now)

        _refuse_after_resolution(episode, started_at=start, stopped_at=stopped_at)
        if stopped_at is None and episode.resolved_at is not None:
            raise ValidationError({"stopped_at": ["Required: the episode is resolved, so this rest period has ended."]})
        clash = _rest_overlapping(episode=episode, start=start, stop=stopped_at)
        if clash is not None:
            raise _overlap("rest period", clash.client_uuid, clash.started_at, clash.stopped_at)
        try:
            with transaction.atomic():
                record = RestPeriod.objects.create(
                    patient=patient, episode=episode, client_uuid=client_uuid, started_at=start, stopped_at=stopped_at
                )
        except IntegrityError:
            # The same id stored meanwhile into another episode by a concurrent request.
            existing = _rest_by_id(patient=patient, client_uuid=client_uuid)
            if existing is None:
                raise
            return _rest_replay(existing, started_at=started_at, stopped_at=stopped_at, episode_id=episode_id, now=now)
    return WriteResult(record, True)


def _rest_stop_locked(rest: RestPeriod, stopped_at: datetime, now: datetime) -> RestPeriod:
    if rest.stopped_at is not None:
        if rest.stopped_at == stopped_at:
            return rest  # a replayed stop
        raise Conflict(
            {
                "detail": "This rest period was already stopped at another time.",
                "stopped_at": rest.stopped_at.isoformat(),
            }
        )
    if stopped_at <= rest.started_at:
        raise ValidationError({"stopped_at": ["Must be after started_at."]})
    if stopped_at > now + CLOCK_SKEW:
        raise ValidationError({"stopped_at": ["Cannot be in the future."]})
    _refuse_after_resolution(rest.episode, stopped_at=stopped_at)
    # Shrinking a running period cannot make it overlap: nothing is recorded after a running one's start.
    rest.stopped_at = stopped_at
    rest.save(update_fields=["stopped_at", "updated_at"])
    return rest


@replans_episode
def rest_stop(*, patient: User, client_uuid: uuid.UUID, stopped_at: datetime | None = None) -> RestPeriod:
    """Stop a running rest period (now, or at the instant given). A rest still running when its episode
    was resolved ends, when no instant is given, at the resolution."""
    now = timezone.now()
    with transaction.atomic():
        rest = (
            RestPeriod.objects.select_for_update(of=("self",))
            .select_related("episode")
            .filter(patient=patient, client_uuid=client_uuid)
            .first()
        )
        if rest is None:
            raise Http404("No such rest period.")
        if rest.stopped_at is not None and stopped_at is None:
            raise Conflict(
                {
                    "detail": "This rest period is not running: nothing to stop.",
                    "stopped_at": rest.stopped_at.isoformat(),
                }
            )
        if stopped_at is None:
            resolved_at = rest.episode.resolved_at
            stopped_at = min(now, resolved_at) if resolved_at is not None else now
        return _rest_stop_locked(rest, stopped_at, now)


@replans_episode
def medication_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    med_class: str,
    dose_mg: Decimal,
    taken_at: datetime | None = None,
    name: str = "",
    episode_id: uuid.UUID | None = None,
) -> WriteResult:
    """Log one intake (default: now) under a client id. Same body again: 200; another body: 409.

    The single dose must lie in its class's range (DOSE_RANGES_MG). NSAID days, and the no-driving
    caution after a muscle relaxant or an opioid, follow from the intakes in the protocol engine.
    """
    payload_hash = _payload_hash(
        {"taken_at": taken_at, "med_class": med_class, "name": name, "dose_mg": dose_mg, "episode": episode_id}
    )
    existing = _stored_replay(
        MedicationIntake, patient=patient, client_uuid=client_uuid, payload_hash=payload_hash, what="medication"
    )
    if existing is not None:
        return WriteResult(existing, False)
    if med_class not in DOSE_RANGES_MG:
        raise ValidationError({"med_class": [f"Must be one of: {', '.join(DOSE_RANGES_MG)}."]})
    low, high = DOSE_RANGES_MG[med_class]
    if not low <= dose_mg <= high:
        raise ValidationError(
            {"dose_mg": [f"A single {med_class} dose must be from {low} to {high} mg; check the unit and the number."]}
        )
    now = timezone.now()
    taken_at = taken_at or now
    if taken_at > now + CLOCK_SKEW:
        raise ValidationError({"taken_at": ["Cannot be in the future."]})
    with transaction.atomic():
        episode = episode_for_write(patient=patient, episode_id=episode_id, at=taken_at, field="taken_at")
        _refuse_after_resolution(episode, taken_at=taken_at)
        return _insert_once(
            MedicationIntake,
            patient=patient,
            client_uuid=client_uuid,
            payload_hash=payload_hash,
            what="medication",
            episode=episode,
            taken_at=taken_at,
            med_class=med_class,
            name=name,
            dose_mg=dose_mg,
        )


@replans_episode
def activity_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    kind: str,
    started_at: datetime,
    minutes: int,
    pain_before: int,
    pain_after: int,
    episode_id: uuid.UUID | None = None,
) -> WriteResult:
    """Log a finished walk with the pain before and after. Same body again: 200; another body: 409.

    A walk must be over (its end not in the future) and must not overlap another walk of the episode.
    """
    payload_hash = _payload_hash(
        {
            "kind": kind,
            "started_at": started_at,
            "minutes": minutes,
            "pain_before": pain_before,
            "pain_after": pain_after,
            "episode": episode_id,
        }
    )
    existing = _stored_replay(
        Activity, patient=patient, client_uuid=client_uuid, payload_hash=payload_hash, what="activity"
    )
    if existing is not None:
        return WriteResult(existing, False)
    errors = {}
    if kind not in Activity.Kind.values:
        errors["kind"] = [f"Must be one of: {', '.join(Activity.Kind.values)}."]
    if not 1 <= minutes <= ACTIVITY_MAX_MINUTES:
        errors["minutes"] = [f"Must be from 1 to {ACTIVITY_MAX_MINUTES}."]
    for name, pain in (("pain_before", pain_before), ("pain_after", pain_after)):
        if not 0 <= pain <= 10:
            errors[name] = ["Must be from 0 to 10."]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    if started_at > now + CLOCK_SKEW:
        raise ValidationError({"started_at": ["Cannot be in the future."]})
    ends_at = started_at + timedelta(minutes=minutes)
    if ends_at > now + CLOCK_SKEW:
        raise ValidationError({"minutes": ["The walk would end in the future: log it once it is over."]})
    with transaction.atomic():
        episode = episode_for_write(patient=patient, episode_id=episode_id, at=started_at, field="started_at")
        # A concurrent request with the same id may have stored it while this one waited for the episode.
        existing = _stored_replay(
            Activity, patient=patient, client_uuid=client_uuid, payload_hash=payload_hash, what="activity"
        )
        if existing is not None:
            return WriteResult(existing, False)
        _refuse_after_resolution(episode, started_at=started_at)
        nearby = Activity.objects.filter(
            episode=episode,
            started_at__lt=ends_at,
            started_at__gt=started_at - timedelta(minutes=ACTIVITY_MAX_MINUTES),
        ).order_by("started_at", "id")
        for other in nearby:
            other_ends = other.started_at + timedelta(minutes=other.minutes)
            if other_ends > started_at:
                raise _overlap("walk", other.client_uuid, other.started_at, other_ends)
        return _insert_once(
            Activity,
            patient=patient,
            client_uuid=client_uuid,
            payload_hash=payload_hash,
            what="activity",
            episode=episode,
            kind=kind,
            started_at=started_at,
            minutes=minutes,
            pain_before=pain_before,
            pain_after=pain_after,
        )
