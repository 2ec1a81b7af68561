"""Django loads the app's models from here; each domain package defines its own."""

from recovery.care.models import CareInvite, CareLink, CareNote, InviteAttempt
from recovery.episodes.models import CheckIn, Episode, EpisodePause, RedFlagEvent, SleepQuality, SpasmFrequency, Trigger
from recovery.outcomes.models import QuestionnaireResponse, QuestionnaireVersion
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.treatment.models import (
    Activity,
    Application,
    ApplicationKind,
    MedicationClass,
    MedicationIntake,
    Prescription,
    ProtocolVersion,
    RestPeriod,
)
from recovery.triage.models import ClinicianAlert, TriageSummary

__all__ = [
    "Activity",
    "Application",
    "ApplicationKind",
    "CareInvite",
    "CareLink",
    "CareNote",
    "CheckIn",
    "ClinicianAlert",
    "Delivery",
    "DeliveryAttempt",
    "Episode",
    "EpisodePause",
    "InviteAttempt",
    "MedicationClass",
    "MedicationIntake",
    "Prescription",
    "ProtocolVersion",
    "QuestionnaireResponse",
    "QuestionnaireVersion",
    "RedFlagEvent",
    "Reminder",
    "RestPeriod",
    "SleepQuality",
    "SpasmFrequency",
    "TriageSummary",
    "Trigger",
]
