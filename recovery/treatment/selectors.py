"""Reads for the protocol: the effective protocol of an episode, and its plan at an instant."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backcare.accounts.models import Profile
from recovery.episodes.models import CheckIn, Episode
from recovery.protocol import engine
from recovery.protocol.definition import BOUNDS, PRESCRIBABLE, Protocol, prescribe, protocol_from_dict, protocol_to_dict
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
    )
    applications = tuple(
        engine.Application(str(a.client_uuid), a.kind, a.started_at, a.stopped_at, a.auto_closed)
        for a in Application.objects.filter(episode=episode).order_by("started_at")
    )
    rests = tuple(
        engine.RestPeriod(r.started_at, r.stopped_at)
        for r in RestPeriod.objects.filter(episode=episode).order_by("started_at")
    )
    intakes = tuple(
        engine.Intake(m.med_class, m.taken_at)
        for m in MedicationIntake.objects.filter(episode=episode).only("med_class", "taken_at")
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
    )


def episode_plan(*, episode: Episode, now: datetime, protocol: Protocol | None = None) -> engine.Plan:
    return engine.plan(episode_situation(episode=episode, now=now, protocol=protocol))


def episode_reminders_planned(*, episode: Episode, now: datetime) -> dict[str, engine.Reminder]:
    """The reminders that should exist for the episode at `now`, keyed by slot (the scheduler's input)."""
    return {reminder.slot: reminder for reminder in episode_plan(episode=episode, now=now).reminders}


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
