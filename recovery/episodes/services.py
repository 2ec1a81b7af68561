import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backcare.accounts.models import User
from backcare.core.api import Conflict
from content.selectors import redflag_ruleset_current
from recovery.episodes import redflags
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.reminders.planning import reminders_checkin_logged, replans_episode
from recovery.treatment.models import ProtocolVersion, RestPeriod

CLOCK_SKEW = timedelta(minutes=5)
ONSET_MAX_AGE = timedelta(days=30)


def _open_conflict(patient: User) -> Conflict:
    open_id = Episode.objects.filter(patient=patient, status=Episode.Status.OPEN).values_list("id", flat=True).first()
    return Conflict(
        {
            "detail": "You already have an open episode; resolve it before opening a new one.",
            "open_episode": str(open_id) if open_id else None,
        }
    )


def episode_validate_onset(*, onset: datetime, now: datetime) -> None:
    if onset > now + CLOCK_SKEW:
        raise ValidationError({"onset": ["Onset cannot be in the future."]})
    if onset < now - ONSET_MAX_AGE:
        raise ValidationError({"onset": ["Onset cannot be more than 30 days ago."]})


@replans_episode
def episode_open(
    *,
    patient: User,
    onset: datetime,
    trigger: str,
    notes: str = "",
    client_uuid: uuid.UUID | None = None,
) -> tuple[Episode, bool]:
    """Open an episode. Returns (episode, created); a replay with the same client id returns the first."""
    if client_uuid is not None:
        existing = Episode.objects.filter(patient=patient, client_uuid=client_uuid).first()
        if existing is not None:
            return _same_episode_or_conflict(existing, onset=onset, trigger=trigger, notes=notes), False
    episode_validate_onset(onset=onset, now=timezone.now())
    try:
        with transaction.atomic():
            episode = Episode.objects.create(
                patient=patient,
                onset=onset,
                trigger=trigger,
                notes=notes,
                client_uuid=client_uuid,
                protocol_version=ProtocolVersion.objects.order_by("-version").first(),
            )
    except IntegrityError as exc:
        if client_uuid is not None:
            existing = Episode.objects.filter(patient=patient, client_uuid=client_uuid).first()
            if existing is not None:
                return _same_episode_or_conflict(existing, onset=onset, trigger=trigger, notes=notes), False
        raise _open_conflict(patient) from exc
    return episode, True


def _same_episode_or_conflict(episode: Episode, *, onset: datetime, trigger: str, notes: str) -> Episode:
    if (episode.onset, episode.trigger, episode.notes) != (onset, trigger, notes):
        raise Conflict({"client_uuid": ["This client id was already used for a different episode."]})
    return episode


@replans_episode
@transaction.atomic
def episode_resolve(*, patient: User, episode_id: uuid.UUID, resolved_at: datetime | None = None) -> Episode:
    episode = Episode.objects.select_for_update().filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise Http404("No such episode.")
    if episode.status == Episode.Status.RESOLVED:
        raise Conflict({"detail": "This episode is already resolved.", "resolved_at": episode.resolved_at.isoformat()})
    now = timezone.now()
    resolved_at = resolved_at or now
    if resolved_at > now + CLOCK_SKEW:
        raise ValidationError({"resolved_at": ["Cannot be in the future."]})
    if resolved_at < episode.onset:
        raise ValidationError({"resolved_at": ["Cannot be before the onset."]})
    episode.status = Episode.Status.RESOLVED
    episode.resolved_at = resolved_at
    episode.save(update_fields=["status", "resolved_at"])
    # Bed rest cannot outlive the episode; a running ice or heat application keeps its remove
    # reminder and is closed at its cap like any other.
    RestPeriod.objects.filter(episode=episode, stopped_at__isnull=True, started_at__lt=resolved_at).update(
        stopped_at=resolved_at
    )
    return episode


# --- check-ins -------------------------------------------------------------------------------

CHECKIN_FIELDS = ("occurred_at", "pain", "spasm_frequency", "stiffness", "sleep_quality", "water_glasses", "note")


def _canonical_hash(data: dict[str, Any]) -> str:
    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    canonical = {key: encode(value) for key, value in sorted(data.items())}
    canonical["red_flags"] = {k: bool(v) for k, v in sorted((data.get("red_flags") or {}).items())}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _episode_for_checkin(*, patient: User, episode_id: uuid.UUID | None, occurred_at: datetime) -> Episode:
    if episode_id is not None:
        episode = Episode.objects.select_related("patient__profile").filter(patient=patient, pk=episode_id).first()
        if episode is None:
            raise ValidationError({"episode": ["No such episode."]})
    else:
        # An offline check-in may arrive after its episode was resolved: file it where it belongs.
        episode = (
            Episode.objects.select_related("patient__profile")
            .filter(patient=patient, onset__lte=occurred_at + CLOCK_SKEW)
            .order_by("-onset")
            .first()
        )
        if episode is None or (episode.resolved_at and occurred_at > episode.resolved_at + CLOCK_SKEW):
            episode = (
                Episode.objects.select_related("patient__profile")
                .filter(patient=patient, status=Episode.Status.OPEN)
                .first()
            )
        if episode is None:
            raise ValidationError({"episode": ["You have no open episode; open one first."]})
    if occurred_at < episode.onset - CLOCK_SKEW:
        raise ValidationError({"occurred_at": ["Cannot be before the episode's onset."]})
    if episode.resolved_at and occurred_at > episode.resolved_at + CLOCK_SKEW:
        raise ValidationError({"occurred_at": ["Cannot be after the episode was resolved."]})
    return episode


@dataclass(frozen=True)
class CheckInResult:
    checkin: CheckIn
    created: bool


def _existing_or_conflict(*, patient: User, client_uuid: uuid.UUID, payload_hash: str) -> CheckIn | None:
    existing = CheckIn.objects.filter(patient=patient, client_uuid=client_uuid).first()
    if existing is not None and existing.payload_hash != payload_hash:
        raise Conflict(
            {"id": ["This check-in id was already stored with different content; use a new id for a new check-in."]}
        )
    return existing


def checkin_put(*, patient: User, client_uuid: uuid.UUID, data: dict[str, Any]) -> CheckInResult:
    """Create the check-in with this client id, or return the stored one if it is a replay.

    The red-flag answers are checked against the current rule set and every 'yes' is recorded as
    a RedFlagEvent in the same transaction as the check-in. The common case (a new id) inserts
    first and looks for an earlier copy only when the unique constraint says there is one.
    """
    payload_hash = _canonical_hash(data)
    try:
        episode, ruleset, rules, answers, occurred_at = _checkin_prepare(patient=patient, data=data)
    except ValidationError:
        # A replay of a record stored under rules or an episode that have changed since.
        existing = _existing_or_conflict(patient=patient, client_uuid=client_uuid, payload_hash=payload_hash)
        if existing is None:
            raise
        return CheckInResult(existing, False)

    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                patient=patient,
                episode=episode,
                client_uuid=client_uuid,
                occurred_at=occurred_at,
                pain=data["pain"],
                spasm_frequency=data.get("spasm_frequency") or "",
                stiffness=data.get("stiffness"),
                sleep_quality=data.get("sleep_quality") or "",
                water_glasses=data.get("water_glasses"),
                note=data.get("note") or "",
                red_flag_answers=answers,
                redflag_ruleset=ruleset,
                payload_hash=payload_hash,
            )
            events = [
                RedFlagEvent(
                    patient=patient,
                    episode=episode,
                    checkin=checkin,
                    code=flag.code,
                    level=flag.level,
                    question=flag.question,
                    guidance=flag.guidance,
                    alert_physiotherapist=flag.alert_physiotherapist,
                    ruleset_version=ruleset.version,
                    occurred_at=occurred_at,
                )
                for flag in redflags.flags_raised(rules=rules, answers=answers)
            ]
            if events:
                RedFlagEvent.objects.bulk_create(events)
            # A check-in only changes which day's check-in reminder is still needed: cancel that one
            # here (cheap); the next day's row is added by the next re-plan of the episode.
            profile = getattr(episode.patient, "profile", None)  # loaded with the episode: no query
            zone = ZoneInfo(profile.timezone if profile else "UTC")
            reminders_checkin_logged(episode=episode, occurred_at=occurred_at, zone=zone)
    except IntegrityError:
        existing = _existing_or_conflict(patient=patient, client_uuid=client_uuid, payload_hash=payload_hash)
        if existing is None:
            raise
        return CheckInResult(existing, False)
    # The caller renders the escalation from these; no need to read back what was just written.
    checkin._prefetched_objects_cache = {"redflag_events": events}
    return CheckInResult(checkin, True)


def _checkin_prepare(*, patient: User, data: dict[str, Any]):
    now = timezone.now()
    occurred_at = data.get("occurred_at") or now
    if occurred_at > now + CLOCK_SKEW:
        raise ValidationError({"occurred_at": ["Cannot be in the future."]})
    episode = _episode_for_checkin(patient=patient, episode_id=data.get("episode"), occurred_at=occurred_at)
    answers = data.get("red_flags") or {}
    ruleset, rules = None, []
    if answers:  # the checklist is only read when it was answered
        ruleset = redflag_ruleset_current()
        rules = [
            redflags.Rule(r.code, r.level, r.question, r.guidance, r.alert_physiotherapist)
            for r in (ruleset.rules.all() if ruleset else [])
        ]
        unknown = sorted(set(answers) - {r.code for r in rules})
        if unknown:
            raise ValidationError({"red_flags": {code: ["Not an item of the checklist."] for code in unknown}})
    return episode, ruleset, rules, answers, occurred_at
