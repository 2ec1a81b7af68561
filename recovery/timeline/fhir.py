"""A FHIR R4 Bundle (type collection) of one episode: Patient, EpisodeOfCare, pain Observations (LOINC
72514-3), ice and heat Procedures, MedicationStatements, red flags as Flags, and the outcome questionnaires
(Questionnaire, QuestionnaireResponse, score Observations: recovery.outcomes.fhir). Reads only; seven queries.

The resources are plain dicts shaped to FHIR R4 (4.0.1); the tests validate them with the fhir.resources
package's R4B (4.3.0) models, whose Bundle, Patient, EpisodeOfCare, Observation, Procedure,
MedicationStatement and Flag are the same as R4's for every element written here. Instants are written
in the patient's zone with their UTC offset (recovery.timeline.export.instant_text).
"""

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backcare.accounts.models import User
from backcare.accounts.selectors import profile_zone
from backcare.core.errors import NotFound
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.outcomes.fhir import outcome_fhir_resources
from recovery.timeline.export import Download, instant_text
from recovery.timeline.selectors import episode_named_or_current
from recovery.treatment.models import Application, MedicationClass, MedicationIntake

FHIR_VERSION = "4.0.1"
FHIR_CONTENT_TYPE = "application/fhir+json"
LOINC = "http://loinc.org"
PAIN_LOINC = "72514-3"
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_PRIORITY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_SYSTEM = "http://hl7.org/fhir/flag-priority-code"
UCUM = "http://unitsofmeasure.org"
# backcare's own identifiers and codes (no standard code covers "ice on the lower back at home").
SYSTEM = "urn:backcare"
_ID_NAMESPACE = uuid.UUID("5b0e1f2a-7c3d-4e8f-9a6b-1c2d3e4f5a6b")

APPLICATION_DISPLAY = {"ice": "Ice application (cold pack, with a barrier)", "heat": "Moist heat application"}
FLAG_PRIORITY = {  # red-flag level -> flag-priority-code
    "emergency": ("PH", "High priority"),
    "urgent": ("PM", "Medium priority"),
    "soon": ("PL", "Low priority"),
}


def _resource_id(kind: str, key: Any) -> str:
    """A stable id per row: the same export twice names the same resources."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}/{key}"))


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _identifier(kind: str, value: Any) -> list[dict[str, str]]:
    return [{"system": f"{SYSTEM}:{kind}", "value": str(value)}]


def episode_fhir_bundle(*, patient: User, episode: Episode, zone: ZoneInfo, now: datetime | None = None) -> dict:
    """The episode's Bundle: the patient, the episode of care, then its records oldest first, kind by kind."""
    now = now or timezone.now()
    patient_resource = _patient(patient)
    subject = {"reference": f"urn:uuid:{patient_resource['id']}", "display": patient.display_name or patient.email}
    episode_resource = _episode_of_care(episode, subject, zone)
    resources = [
        patient_resource,
        episode_resource,
        *_pain_observations(episode, subject, zone),
        *_application_procedures(episode, subject, zone),
        *_medication_statements(episode, subject, zone, episode_ref=f"urn:uuid:{episode_resource['id']}"),
        *_red_flags(episode, subject, zone),
        *outcome_fhir_resources(episode=episode, subject=subject, instant=lambda value: instant_text(value, zone)),
    ]
    return {
        "resourceType": "Bundle",
        "id": _resource_id("bundle", f"{episode.pk}/{now.isoformat()}"),
        "meta": {"lastUpdated": instant_text(now, zone)},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "collection",
        "timestamp": instant_text(now, zone),
        "entry": [_entry(resource) for resource in resources],
    }


def patient_fhir_download(*, patient: User, episode_id: uuid.UUID | None = None) -> Download:
    """The Bundle of the episode named (the patient's, else 400), else of the open one, else the latest; NotFound
    when the patient has no episode yet."""
    episode = episode_named_or_current(patient=patient, episode_id=episode_id)
    if episode is None:
        raise NotFound("The patient has no episode yet.")
    bundle = episode_fhir_bundle(patient=patient, episode=episode, zone=profile_zone(user=patient))
    stamp = bundle["timestamp"][:10].replace("-", "")
    return Download(
        body=json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode(),
        content_type=FHIR_CONTENT_TYPE,
        filename=f"backcare-{patient.pk}-episode-{str(episode.pk)[:8]}-{stamp}.fhir.json",
    )


# --- one step per kind of resource ------------------------------------------------------------------


def _patient(patient: User) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _resource_id("patient", patient.pk),
        "identifier": _identifier("patient", patient.pk),
        "active": patient.is_active,
        "telecom": [{"system": "email", "value": patient.email}],
    }
    if patient.display_name:
        resource["name"] = [{"text": patient.display_name}]
    return resource


def _episode_of_care(episode: Episode, subject: dict, zone: ZoneInfo) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": _resource_id("episode", episode.pk),
        "identifier": _identifier("episode", episode.pk),
        "status": "finished" if episode.status == Episode.Status.RESOLVED else "active",
        "type": [{"text": "Acute lower-back muscle spasm: guided self-care"}],
        "patient": subject,
        "period": {"start": instant_text(episode.onset, zone)},
    }
    if episode.resolved_at:
        resource["period"]["end"] = instant_text(episode.resolved_at, zone)
    return resource


def _pain_observations(episode: Episode, subject: dict, zone: ZoneInfo) -> list[dict[str, Any]]:
    observations = []
    for checkin in CheckIn.objects.filter(episode=episode).order_by("occurred_at", "id"):
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _resource_id("checkin", checkin.pk),
            "identifier": _identifier("checkin", checkin.client_uuid),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": {
                "coding": [{"system": LOINC, "code": PAIN_LOINC, "display": PAIN_DISPLAY}],
                "text": "Pain (0-10)",
            },
            "subject": subject,
            "effectiveDateTime": instant_text(checkin.occurred_at, zone),
            "issued": instant_text(checkin.recorded_at, zone),
            "valueInteger": checkin.pain,
        }
        if checkin.note:
            observation["note"] = [{"text": checkin.note}]
        observations.append(observation)
    return observations


def _application_procedures(episode: Episode, subject: dict, zone: ZoneInfo) -> list[dict[str, Any]]:
    procedures = []
    for application in Application.objects.filter(episode=episode).order_by("started_at", "id"):
        display = APPLICATION_DISPLAY.get(application.kind, application.kind)
        period = {"start": instant_text(application.started_at, zone)}
        if application.stopped_at:
            period["end"] = instant_text(application.stopped_at, zone)
        procedure: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": _resource_id("application", application.pk),
            "identifier": _identifier("application", application.client_uuid),
            "status": "completed" if application.stopped_at else "in-progress",
            "category": {"text": "Self-care"},
            "code": {
                "coding": [{"system": f"{SYSTEM}:application-kind", "code": application.kind, "display": display}],
                "text": display,
            },
            "subject": subject,
            "performedPeriod": period,
        }
        if application.auto_closed:
            procedure["note"] = [{"text": "Taken off by the server at the protocol's maximum on-time."}]
        procedures.append(procedure)
    return procedures


def _medication_statements(episode: Episode, subject: dict, zone: ZoneInfo, *, episode_ref: str) -> list[dict]:
    labels = dict(MedicationClass.choices)
    statements = []
    for intake in MedicationIntake.objects.filter(episode=episode).order_by("taken_at", "id"):
        label = labels.get(intake.med_class, intake.med_class)
        dose = format(intake.dose_mg.normalize(), "f")  # 400.00 -> "400", 12.50 -> "12.5"
        quantity = {"value": float(intake.dose_mg), "unit": "mg", "system": UCUM, "code": "mg"}
        statements.append(
            {
                "resourceType": "MedicationStatement",
                "id": _resource_id("medication", intake.pk),
                "identifier": _identifier("medication", intake.client_uuid),
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": f"{SYSTEM}:medication-class", "code": intake.med_class, "display": label}],
                    "text": intake.name or label,
                },
                "subject": subject,
                "context": {"reference": episode_ref},
                "effectiveDateTime": instant_text(intake.taken_at, zone),
                "dateAsserted": instant_text(intake.created_at, zone),
                "informationSource": subject,
                "dosage": [{"text": f"{dose} mg", "doseAndRate": [{"doseQuantity": quantity}]}],
            }
        )
    return statements


def _red_flags(episode: Episode, subject: dict, zone: ZoneInfo) -> list[dict[str, Any]]:
    flags = []
    for event in RedFlagEvent.objects.filter(episode=episode).order_by("occurred_at", "id"):
        flag: dict[str, Any] = {
            "resourceType": "Flag",
            "id": _resource_id("redflag", event.pk),
            "status": "inactive" if episode.status == Episode.Status.RESOLVED else "active",
            "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}],
            "code": {
                "coding": [{"system": f"{SYSTEM}:red-flag", "code": event.code, "display": event.question}],
                "text": f"Red flag ({event.level}): {event.question}",
            },
            "subject": subject,
            "period": {"start": instant_text(event.occurred_at, zone)},
        }
        priority = FLAG_PRIORITY.get(event.level)
        if priority:
            code, display = priority
            concept = {
                "coding": [{"system": FLAG_PRIORITY_SYSTEM, "code": code, "display": display}],
                "text": event.level,
            }
            flag["extension"] = [{"url": FLAG_PRIORITY_EXTENSION, "valueCodeableConcept": concept}]
        flags.append(flag)
    return flags
