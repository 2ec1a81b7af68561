"""Reads of the treatment domain: the effective protocol of an episode, its plan and state at an instant, and
the patient's own records (applications, rest, medication, walks)."""

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Model, Q, QuerySet, Subquery
from django.utils import timezone

from backcare.accounts.models import Profile, User
from backcare.core.errors import NotFound
from recovery.care import selectors as care_selectors
from recovery.episodes.models import CheckIn, Episode
from recovery.episodes.selectors import episode_current, episode_get, episode_records
from recovery.outcomes.planning import outcome_reminders_planned
from recovery.protocol import ending, engine, window
from recovery.protocol.definition import BOUNDS, PRESCRIBABLE, Protocol, prescribe, protocol_from_dict, protocol_to_dict
from recovery.protocol.pause import Pause
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, ProtocolVersion, RestPeriod


def protocol_version_current() -> ProtocolVersion | None:
    return ProtocolVersion.objects.order_by("-version").first()


def prescription_current(*, episode: Episode) -> Prescription | None:
    return Prescription.objects.filter(episode=episode).order_by("-created_at", "-id").first()


def episode_protocol(*, episode: Episode) -> Protocol:
    """The protocol version the episode began with, plus the newest prescription's overrides."""
    version = episode.protocol_version or protocol_version_current()
    if version is None:
        raise LookupError("No protocol version is loaded: run manage.py migrate")
    base = protocol_from_dict(version.definition)
    prescription = prescription_current(episode=episode)
    return prescribe(base, prescription.overrides) if prescription else base


def episode_situation(*, episode: Episode, now: datetime, protocol: Protocol | None = None) -> engine.Situation:
    """Everything the engine needs, read in a fixed number of queries whatever the history's size."""
    profile = Profile.objects.filter(user_id=episode.patient_id).first() or Profile(user_id=episode.patient_id)
    patient = engine.Patient(
        zone=ZoneInfo(profile.timezone),
        sleep_start=profile.sleep_start,
        sleep_end=profile.sleep_end,
        desk_worker=profile.desk_worker,
        notify_treatment=profile.notify_treatment,
        notify_checkin=profile.notify_checkin,
        notify_movement=profile.notify_movement,
        heat_reminders_per_day=profile.heat_reminders_per_day,
    )
    applications = tuple(
        engine.Application(str(key), kind, start, stop, auto_closed)
        for key, kind, start, stop, auto_closed in applications_needed(episode=episode, now=now).values_list(
            *APPLICATION_FIELDS
        )
    )
    rests = tuple(
        engine.RestPeriod(start, stop)
        for start, stop in RestPeriod.objects.filter(episode=episode)
        .order_by("started_at")
        .values_list("started_at", "stopped_at")
    )
    intakes = tuple(
        engine.Intake(med_class, at)
        for med_class, at in MedicationIntake.objects.filter(episode=episode).values_list("med_class", "taken_at")
    )
    checkins = tuple(
        engine.PainPoint(at, pain)
        for at, pain in CheckIn.objects.filter(episode=episode).values_list("occurred_at", "pain")
    )
    walks = tuple(
        engine.Walk(a.started_at, a.minutes, a.pain_before, a.pain_after)
        for a in Activity.objects.filter(episode=episode, kind=Activity.Kind.WALKING)
    )
    return engine.Situation(
        protocol=protocol or episode_protocol(episode=episode),
        onset=episode.onset,
        patient=patient,
        now=now,
        applications=applications,
        rests=rests,
        intakes=intakes,
        checkins=checkins,
        walks=walks,
        resolved_at=episode.resolved_at,
        pause=Pause(episode.paused_since.isoformat(), episode.paused_since) if episode.paused_since else None,
    )


APPLICATION_FIELDS = ("client_uuid", "kind", "started_at", "stopped_at", "auto_closed")


def applications_needed(*, episode: Episode, now: datetime) -> QuerySet[Application]:
    """SQL twin of recovery.protocol.window.needed: the applications the engine reads at `now` (running,
    server-closed, started since the lookback, and the latest one before it), not the whole history, so that a
    re-plan costs the same with 5,000 applications as with 5. Ordered as the engine sorts (start, then id)."""
    since = window.needed_since(now)
    anchor = (
        Application.objects.filter(episode=episode, started_at__lt=since).order_by("-started_at", "-id").values("pk")
    )
    return (
        Application.objects.filter(episode=episode)
        .filter(
            Q(stopped_at__isnull=True) | Q(auto_closed=True) | Q(started_at__gte=since) | Q(pk=Subquery(anchor[:1]))
        )
        .order_by("started_at", "id")
    )


def episode_plan(*, episode: Episode, now: datetime, protocol: Protocol | None = None) -> engine.Plan:
    return engine.plan(episode_situation(episode=episode, now=now, protocol=protocol))


def episode_reminders_planned(*, episode: Episode, now: datetime) -> dict[str, engine.Reminder]:
    """The reminders that should exist for the episode at `now`, keyed by slot (the scheduler's input): the protocol
    engine's, and the outcome questionnaires' (recovery.outcomes.planning)."""
    situation = episode_situation(episode=episode, now=now)
    planned = {reminder.slot: reminder for reminder in engine.plan(situation).reminders}
    questionnaires = outcome_reminders_planned(episode_id=episode.pk, protocol_situation=situation)
    return planned | {due.slot: due for due in questionnaires}


def prescription_history(*, episode: Episode) -> list[Prescription]:
    """Every prescription of the episode, newest first (the first one applies), with its author."""
    return list(
        Prescription.objects.filter(episode=episode).select_related("created_by").order_by("-created_at", "-id")
    )


def episode_protocol_overview(*, episode: Episode) -> dict[str, Any]:
    """What the patient is shown about their protocol: the values in force and where they come from."""
    version = episode.protocol_version or protocol_version_current()
    if version is None:
        raise LookupError("No protocol version is loaded: run manage.py migrate")
    defaults = protocol_from_dict(version.definition)
    history = prescription_history(episode=episode)
    effective = prescribe(defaults, history[0].overrides) if history else defaults
    return {
        "episode": episode.id,
        "version": version.version,
        "values": protocol_to_dict(effective),
        "defaults": protocol_to_dict(defaults),
        "prescribable": sorted(PRESCRIBABLE),
        "bounds": {name: {"min": low, "max": high} for name, (low, high) in BOUNDS.items()},
        "prescriptions": [
            {
                "overrides": p.overrides,
                "note": p.note,
                "author": (p.created_by.display_name or None) if p.created_by else None,
                "created_at": p.created_at,
            }
            for p in history
        ],
    }


def episode_protocol_overview_for_patient(*, patient: User, episode_id: uuid.UUID) -> dict[str, Any]:
    """episode_protocol_overview of one of the patient's own episodes (404 if it is not theirs)."""
    return episode_protocol_overview(episode=episode_get(patient=patient, episode_id=episode_id))


# --- the state of an episode, as the patient's app shows it ---------------------------------------


def episode_state(*, patient: User, episode_id: uuid.UUID) -> dict[str, Any]:
    """Phase, running timer, what is allowed now and why, the next action and the planned reminders."""
    episode = episode_get(patient=patient, episode_id=episode_id)
    now = timezone.now()
    protocol = episode_protocol(episode=episode)
    situation = episode_situation(episode=episode, now=now, protocol=protocol)
    plan = engine.plan(situation)
    zone, sleep = situation.patient.zone, (situation.patient.sleep_start, situation.patient.sleep_end)
    return {
        "episode": episode.id,
        "now": now,
        "phase": plan.phase,
        "day": plan.day,
        "acute_ends_at": plan.acute_ends_at,
        "state": plan.state,
        "running": _running(plan, now=now),
        "pause_until": plan.pause_until,
        "allowed": {kind: vars(allowed) for kind, allowed in plan.allowed.items()},
        "next_action": vars(plan.next_action) if plan.next_action else None,
        "reminders": [vars(r) for r in plan.reminders],
        "warnings": [vars(n) for n in plan.notices],
        "rest": {
            "total_minutes": int(plan.rest_total.total_seconds() // 60),
            "resting_since": plan.resting_since,
            "nudge_hours": protocol.rest_nudge_hours,
            "cap_hours": protocol.rest_cap_hours,
        },
        "nsaid_days": plan.nsaid_days,
        "ready_to_run": plan.ready_to_run,
        # A plan that ends (issue 13): start reminders stop at the review of heat_until_day; two good days in a
        # row offer ending the plan.
        "starts_end_at": ending.starts_end_at(protocol, episode.onset, zone, sleep),
        "feeling_better": plan.phase != "resolved" and ending.feeling_better(situation),
        "protocol": protocol_to_dict(protocol),
    }


def _running(plan: engine.Plan, *, now: datetime) -> dict[str, Any] | None:
    if plan.running is None:
        return None
    return {
        "id": plan.running.key,
        "kind": plan.running.kind,
        "started_at": plan.running.start,
        "ends_at": plan.running_until,
        "seconds_left": max(0, int((plan.running_until - now).total_seconds())),
    }


# --- the patient's own records -------------------------------------------------------------------


def application_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[Application]:
    return episode_records(Application.objects.all(), patient=patient, episode_id=episode_id)


def application_get(*, patient: User, client_uuid: uuid.UUID) -> Application:
    return _own(Application, patient=patient, client_uuid=client_uuid, what="application")


def rest_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[RestPeriod]:
    return episode_records(RestPeriod.objects.all(), patient=patient, episode_id=episode_id)


def rest_get(*, patient: User, client_uuid: uuid.UUID) -> RestPeriod:
    return _own(RestPeriod, patient=patient, client_uuid=client_uuid, what="rest period")


def medication_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[MedicationIntake]:
    return episode_records(MedicationIntake.objects.all(), patient=patient, episode_id=episode_id)


def medication_get(*, patient: User, client_uuid: uuid.UUID) -> MedicationIntake:
    return _own(MedicationIntake, patient=patient, client_uuid=client_uuid, what="medication intake")


def activity_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[Activity]:
    return episode_records(Activity.objects.all(), patient=patient, episode_id=episode_id)


def activity_get(*, patient: User, client_uuid: uuid.UUID) -> Activity:
    return _own(Activity, patient=patient, client_uuid=client_uuid, what="activity")


def _own(model: type[Model], *, patient: User, client_uuid: uuid.UUID, what: str) -> Any:
    record = model.objects.filter(patient=patient, client_uuid=client_uuid).first()
    if record is None:
        raise NotFound(f"No such {what}.")
    return record


def patient_protocol_overview(*, patient: User, episode_id: uuid.UUID | None) -> dict[str, Any]:
    """A physiotherapist's view of one patient's protocol: the episode named (400 if not the patient's), else the
    current one (404 if the patient has none yet)."""
    if episode_id is not None:
        episode = care_selectors.patient_episode_get(patient=patient, episode_id=episode_id)
    else:
        episode = episode_current(patient=patient)
    if episode is None:
        raise NotFound("The patient has no episode yet.")
    return episode_protocol_overview(episode=episode)
