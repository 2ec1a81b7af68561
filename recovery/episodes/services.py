"""Writes of episodes and check-ins: open, resolve, and a check-in with the red flags it raises."""

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Invalid, NotFound
from backcare.core.replay import Written, insert_once, payload_hash, replay_or_conflict, replay_stored
from content.selectors import redflag_ruleset_current
from recovery.episodes import redflags
from recovery.episodes.models import CLOCK_SKEW, CheckIn, Episode, EpisodePause, RedFlagEvent
from recovery.reminders.planning import (
    deliveries_cancel_after_resolve,
    reminders_checkin_logged,
    reminders_reconcile,
    reminders_replan_soon,
    replans_episode,
)
from recovery.treatment.models import ProtocolVersion
from recovery.treatment.selectors import episode_protocol
from recovery.treatment.services import rest_stop_at_resolution
from recovery.triage.alerts import clinician_alert_raise
from recovery.triage.services import triage_summaries_touch

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
        raise Invalid({"onset": ["Onset cannot be in the future."]})
    if onset < now - ONSET_MAX_AGE:
        raise Invalid({"onset": ["Onset cannot be more than 30 days ago."]})


@replans_episode
def episode_open(
    *,
    patient: User,
    onset: datetime,
    trigger: str,
    notes: str = "",
    client_uuid: uuid.UUID | None = None,
) -> Written:
    """Open an episode. A replay with the same client id answers the first (not created); a second open
    episode is refused with 409 naming the open one."""

    def stored() -> Episode | None:
        if client_uuid is None:
            return None
        return replay_or_conflict(
            Episode.objects.filter(patient=patient, client_uuid=client_uuid).first(),
            same=lambda episode: (episode.onset, episode.trigger, episode.notes) == (onset, trigger, notes),
            conflict={"client_uuid": ["This client id was already used for a different episode."]},
        )

    existing = stored()  # before the onset's age is checked: a late replay of an old open still answers
    if existing is not None:
        return Written(existing, False)
    episode_validate_onset(onset=onset, now=timezone.now())
    try:
        return insert_once(
            lambda: Episode.objects.create(
                patient=patient,
                onset=onset,
                trigger=trigger,
                notes=notes,
                client_uuid=client_uuid,
                protocol_version=ProtocolVersion.objects.order_by("-version").first(),
            ),
            replay=stored,
        )
    except IntegrityError as exc:  # not a replay: the one-open-episode constraint
        raise _open_conflict(patient) from exc


@replans_episode
@transaction.atomic
def episode_resolve(*, patient: User, episode_id: uuid.UUID, resolved_at: datetime | None = None) -> Episode:
    episode = Episode.objects.select_for_update(no_key=True).filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise NotFound("No such episode.")
    if episode.status == Episode.Status.RESOLVED:
        raise Conflict({"detail": "This episode is already resolved.", "resolved_at": episode.resolved_at.isoformat()})
    now = timezone.now()
    resolved_at = resolved_at or now
    if resolved_at > now + CLOCK_SKEW:
        raise Invalid({"resolved_at": ["Cannot be in the future."]})
    if resolved_at < episode.onset:
        raise Invalid({"resolved_at": ["Cannot be before the onset."]})
    episode.status = Episode.Status.RESOLVED
    episode.resolved_at = resolved_at
    _pause_end(episode, at=max(now, episode.paused_since or now), reason=EpisodePause.EndReason.RESOLVED)
    episode.save(update_fields=["status", "resolved_at", "paused_since"])
    # Bed rest cannot outlive the episode; a running ice or heat application keeps its remove
    # reminder and is closed at its cap like any other.
    rest_stop_at_resolution(episode=episode)
    deliveries_cancel_after_resolve(episode=episode, now=now)
    return episode


@replans_episode
@transaction.atomic
def episode_resume(*, patient: User, episode_id: uuid.UUID) -> Episode:
    """The patient got help and takes the plan up again after an emergency answer: the self-care reminders
    come back (re-planned from now). Not paused: 409."""
    episode = Episode.objects.select_for_update(no_key=True).filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise NotFound("No such episode.")
    if episode.status != Episode.Status.OPEN:
        raise Conflict({"detail": _("This episode is resolved.")})
    if episode.paused_since is None:
        raise Conflict({"detail": _("The plan is not paused.")})
    now = timezone.now()
    _pause_end(episode, at=max(now, episode.paused_since), reason=EpisodePause.EndReason.RESUMED)
    episode.save(update_fields=["paused_since"])
    return episode


def _pause_end(episode: Episode, *, at: datetime, reason: str) -> None:
    """End the open pause (if any) at `at`; the caller saves the episode's paused_since."""
    EpisodePause.objects.filter(episode=episode, ended_at__isnull=True).update(ended_at=at, end_reason=reason)
    episode.paused_since = None


def _pause_start(checkin: CheckIn, event: RedFlagEvent) -> bool:
    """Pause the open episode's self-care after an emergency answer; an episode already paused stays paused
    from its first. Returns whether a pause began."""
    episode = Episode.objects.select_for_update(no_key=True).get(pk=checkin.episode_id)
    if episode.status != Episode.Status.OPEN or episode.paused_since is not None:
        return False
    since = min(checkin.occurred_at, timezone.now())  # an offline answer paused the app when it was given
    EpisodePause.objects.create(episode=episode, patient_id=episode.patient_id, redflag_event=event, started_at=since)
    episode.paused_since = since
    episode.save(update_fields=["paused_since"])
    checkin.episode.paused_since = since
    return True


# --- check-ins -------------------------------------------------------------------------------


def _checkin_hash(data: dict[str, Any]) -> str:
    # The red-flag answers always count, as booleans: none sent and {} are the same check-in.
    red_flags = {code: bool(answer) for code, answer in (data.get("red_flags") or {}).items()}
    return payload_hash({**data, "red_flags": red_flags})


def _episode_for_checkin(*, patient: User, episode_id: uuid.UUID | None, occurred_at: datetime) -> Episode:
    episodes = Episode.objects.select_related("patient__profile").filter(patient=patient)
    if episode_id is not None:
        episode = episodes.filter(pk=episode_id).first()
        if episode is None:
            raise Invalid({"episode": ["No such episode."]})
    else:
        # An offline check-in may arrive after its episode was resolved: file it where it belongs.
        episode = episodes.filter(onset__lte=occurred_at + CLOCK_SKEW).order_by("-onset").first()
        if episode is None or (episode.resolved_at and occurred_at > episode.resolved_at + CLOCK_SKEW):
            episode = episodes.filter(status=Episode.Status.OPEN).first()
        if episode is None:
            raise Invalid({"episode": ["You have no open episode; open one first."]})
    if occurred_at < episode.onset - CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be before the episode's onset."]})
    if episode.resolved_at and occurred_at > episode.resolved_at + CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be after the episode was resolved."]})
    return episode


def checkin_put(*, patient: User, client_uuid: uuid.UUID, data: dict[str, Any]) -> Written:
    """Create the check-in with this client id, or answer the stored one if it is a replay.

    The red-flag answers are checked against the current rule set and every 'yes' is recorded as
    a RedFlagEvent in the same transaction as the check-in.
    """
    content_hash = _checkin_hash(data)

    def stored() -> CheckIn | None:
        rows = CheckIn.objects.filter(patient=patient, client_uuid=client_uuid)
        return replay_stored(rows, payload_hash=content_hash, what="check-in")

    try:
        checkin, rules = _checkin_prepare(
            patient=patient, client_uuid=client_uuid, data=data, payload_hash=content_hash
        )
    except Invalid:
        # A replay of a record stored under rules or an episode that have changed since.
        existing = stored()
        if existing is None:
            raise
        return Written(existing, False)
    return insert_once(lambda: _checkin_store(checkin, rules=rules), replay=stored)


def _checkin_prepare(
    *, patient: User, client_uuid: uuid.UUID, data: dict[str, Any], payload_hash: str
) -> tuple[CheckIn, list[redflags.Rule]]:
    """The check-in to store, unsaved, with its episode found and its red-flag answers checked against the
    rules of the current checklist (returned too: they say which answers raise a flag)."""
    now = timezone.now()
    occurred_at = data.get("occurred_at") or now
    if occurred_at > now + CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be in the future."]})
    episode = _episode_for_checkin(patient=patient, episode_id=data.get("episode"), occurred_at=occurred_at)
    answers = data.get("red_flags") or {}
    ruleset, rules = None, []
    if answers:  # the checklist is only read when it was answered
        ruleset = redflag_ruleset_current()
        rules = [
            redflags.Rule(r.code, r.level, r.question, r.guidance, r.alert_physiotherapist)
            for r in (ruleset.rules.all() if ruleset else [])
        ]
        unknown = sorted(set(answers) - {rule.code for rule in rules})
        if unknown:
            raise Invalid({"red_flags": {code: ["Not an item of the checklist."] for code in unknown}})
    checkin = CheckIn(
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
    return checkin, rules


def _checkin_store(checkin: CheckIn, *, rules: list[redflags.Rule]) -> CheckIn:
    """Insert the check-in, a RedFlagEvent per 'yes', and cancel the check-in reminder it makes unneeded."""
    checkin.save(force_insert=True)
    ruleset = checkin.redflag_ruleset
    events = [
        RedFlagEvent(
            patient=checkin.patient,
            episode=checkin.episode,
            checkin=checkin,
            code=flag.code,
            level=flag.level,
            question=flag.question,
            guidance=flag.guidance,
            alert_physiotherapist=flag.alert_physiotherapist,
            ruleset_version=ruleset.version,
            occurred_at=checkin.occurred_at,
        )
        for flag in redflags.flags_raised(rules=rules, answers=checkin.red_flag_answers)
    ]
    if events:
        RedFlagEvent.objects.bulk_create(events)
    # A check-in only changes which day's check-in reminder is still needed: cancel that one
    # here (cheap); the next day's row is added by the next re-plan of the episode.
    profile = getattr(checkin.episode.patient, "profile", None)  # loaded with the episode: no query
    zone = ZoneInfo(profile.timezone if profile else "UTC")
    # An emergency locks the episode before any reminder row, the order every write service takes.
    paused = _redflags_escalate(checkin, events) if events else False
    reminders_checkin_logged(episode=checkin.episode, occurred_at=checkin.occurred_at, zone=zone)
    if paused:
        triage_summaries_touch(patient_ids=[checkin.patient_id])  # last: the summary row is the last lock
    reminders_replan_soon(episode_id=checkin.episode_id)  # good days may now offer ending the plan
    # The caller renders the escalation from these; no need to read back what was just written.
    checkin._prefetched_objects_cache = {"redflag_events": events}
    return checkin


def _redflags_escalate(checkin: CheckIn, events: list[RedFlagEvent]) -> bool:
    """Red flags always escalate: an emergency pauses the self-care plan (its reminders re-planned now), and
    an emergency or urgent answer alerts the care team (recovery.triage.alerts). Returns whether it paused."""
    emergency = next((e for e in events if e.level == "emergency"), None)
    paused = emergency is not None and _pause_start(checkin, emergency)
    episode = checkin.episode
    clinician_alert_raise(episode=episode, events=events, protocol=episode_protocol(episode=episode))
    if paused:
        reminders_reconcile(episode=episode)
    return paused
