"""Exports of one patient's data: a FHIR R4 Bundle of an episode, the timeline as CSV, and everything as JSON.

Builders only: the caller decides who may read the patient (care_selectors for a physiotherapist, the
patient themself) and records the access. Each builder runs a constant number of queries.

Instants are written in the patient's IANA zone *with their UTC offset* (2026-11-20T13:00:00+01:00),
never naive, so a reader needs no zone to know the instant and still sees the patient's local clock.

FHIR: the resources are plain dicts shaped to FHIR R4 (4.0.1); the tests validate them with the
fhir.resources package's R4B (4.3.0) models, whose Bundle, Patient, EpisodeOfCare, Observation,
Procedure, MedicationStatement and Flag are the same as R4's for every element written here.
"""

import csv
import io
import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import timezone

from backcare.accounts.models import User
from backcare.audit.selectors import access_log_for_patient
from backcare.push.selectors import device_list, device_public_id
from recovery.care.models import CareLink, CareNote
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.episodes.selectors import patient_zone
from recovery.reminders.models import Reminder
from recovery.timeline.selectors import TIMELINE_KINDS, TimelineCursor, patient_timeline
from recovery.treatment.models import Activity, Application, MedicationClass, MedicationIntake, Prescription, RestPeriod

# --- instants ------------------------------------------------------------------------------------


def instant_text(value: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 in the patient's zone with its offset; milliseconds only when there are any."""
    if value is None:
        return None
    local = value.astimezone(zone)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


# --- FHIR ----------------------------------------------------------------------------------------

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
    """A FHIR `Bundle` (type collection) of one episode: Patient, EpisodeOfCare, pain Observations (LOINC
    72514-3), ice and heat Procedures, MedicationStatements and red flags as Flags. Five queries."""
    now = now or timezone.now()
    patient_id = _resource_id("patient", patient.pk)
    subject = {"reference": f"urn:uuid:{patient_id}", "display": patient.display_name or patient.email}
    episode_id = _resource_id("episode", episode.pk)

    patient_resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": _identifier("patient", patient.pk),
        "active": patient.is_active,
        "telecom": [{"system": "email", "value": patient.email}],
    }
    if patient.display_name:
        patient_resource["name"] = [{"text": patient.display_name}]
    episode_resource: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": episode_id,
        "identifier": _identifier("episode", episode.pk),
        "status": "finished" if episode.status == Episode.Status.RESOLVED else "active",
        "type": [{"text": "Acute lower-back muscle spasm: guided self-care"}],
        "patient": subject,
        "period": {"start": instant_text(episode.onset, zone)},
    }
    if episode.resolved_at:
        episode_resource["period"]["end"] = instant_text(episode.resolved_at, zone)
    entries = [_entry(patient_resource), _entry(episode_resource)]

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
        entries.append(_entry(observation))

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
        entries.append(_entry(procedure))

    labels = dict(MedicationClass.choices)
    for intake in MedicationIntake.objects.filter(episode=episode).order_by("taken_at", "id"):
        label = labels.get(intake.med_class, intake.med_class)
        dose = format(intake.dose_mg.normalize(), "f")  # 400.00 -> "400", 12.50 -> "12.5"
        entries.append(
            _entry(
                {
                    "resourceType": "MedicationStatement",
                    "id": _resource_id("medication", intake.pk),
                    "identifier": _identifier("medication", intake.client_uuid),
                    "status": "completed",
                    "medicationCodeableConcept": {
                        "coding": [
                            {"system": f"{SYSTEM}:medication-class", "code": intake.med_class, "display": label}
                        ],
                        "text": intake.name or label,
                    },
                    "subject": subject,
                    "context": {"reference": f"urn:uuid:{episode_id}"},
                    "effectiveDateTime": instant_text(intake.taken_at, zone),
                    "dateAsserted": instant_text(intake.created_at, zone),
                    "informationSource": subject,
                    "dosage": [
                        {
                            "text": f"{dose} mg",
                            "doseAndRate": [
                                {
                                    "doseQuantity": {
                                        "value": float(intake.dose_mg),
                                        "unit": "mg",
                                        "system": UCUM,
                                        "code": "mg",
                                    }
                                }
                            ],
                        }
                    ],
                }
            )
        )

    for event in RedFlagEvent.objects.filter(episode=episode).order_by("occurred_at", "id"):
        priority = FLAG_PRIORITY.get(event.level)
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
        if priority:
            code, display = priority
            flag["extension"] = [
                {
                    "url": FLAG_PRIORITY_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [{"system": FLAG_PRIORITY_SYSTEM, "code": code, "display": display}],
                        "text": event.level,
                    },
                }
            ]
        entries.append(_entry(flag))

    return {
        "resourceType": "Bundle",
        "id": _resource_id("bundle", f"{episode.pk}/{now.isoformat()}"),
        "meta": {"lastUpdated": instant_text(now, zone)},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "collection",
        "timestamp": instant_text(now, zone),
        "entry": entries,
    }


# --- CSV of the timeline ---------------------------------------------------------------------------

# (column, key in the entry's data). `kind` is the timeline kind; `detail_kind` the event's own kind
# (ice or heat, the reminder's kind, walking).
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("episode", "episode"),
    ("record_id", "id"),
    ("pain", "pain"),
    ("stiffness", "stiffness"),
    ("spasm_frequency", "spasm_frequency"),
    ("sleep_quality", "sleep_quality"),
    ("water_glasses", "water_glasses"),
    ("detail_kind", "kind"),
    ("auto_closed", "auto_closed"),
    ("med_class", "med_class"),
    ("medication_name", "name"),
    ("dose_mg", "dose_mg"),
    ("minutes", "minutes"),
    ("pain_before", "pain_before"),
    ("pain_after", "pain_after"),
    ("checkin", "checkin"),
    ("code", "code"),
    ("level", "level"),
    ("reminder", "reminder"),
    ("safety", "safety"),
    ("action", "action"),
    ("overrides", "overrides"),
    ("note", "note"),
    ("text", "text"),
    ("author", "author"),
)
CSV_HEADER = ("kind", "at", "ends_at", "ref", *(name for name, _ in CSV_COLUMNS))
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
_FREE_TEXT = {"note", "text", "name", "author"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_PAGE = 2000


def csv_cell(value: Any, *, free_text: bool = False) -> str:
    """One value as text: 0 stays "0" and False "false"; only a missing value is empty.

    Free text a patient or physiotherapist typed is prefixed with ' when a spreadsheet would run it as
    a formula (=, +, -, @).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    text = str(value)
    if free_text and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def timeline_csv(
    *,
    patient: User,
    zone: ZoneInfo,
    episode_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> str:
    """The whole timeline (oldest last, as on screen: newest first), one row per event, as CSV text.

    Read in pages of 2000 through the timeline selector, so the number of queries grows with the
    history only by one per 2000 events.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    chosen = tuple(kinds) if kinds is not None else TIMELINE_KINDS
    after: TimelineCursor | None = None
    while True:
        page = patient_timeline(
            patient=patient, kinds=chosen, episode_id=episode_id, since=since, until=until, after=after, limit=_CSV_PAGE
        )
        for entry in page.entries:
            data = entry.data
            writer.writerow(
                (
                    entry.kind,
                    instant_text(entry.at, zone),
                    instant_text(entry.ends_at, zone) or "",
                    entry.id,
                    *(csv_cell(data.get(key), free_text=key in _FREE_TEXT) for _, key in CSV_COLUMNS),
                )
            )
        if page.next is None:
            return out.getvalue()
        after = page.next


# --- everything of a patient, as JSON --------------------------------------------------------------


def patient_data_for_export(*, patient: User) -> dict[str, Any]:
    """Every record the patient has here, for the export serializer. About 20 queries, whatever the history."""
    profile = getattr(patient, "profile", None)
    return {
        "exported_at": timezone.now(),
        "timezone": patient_zone(patient=patient).key,
        "account": patient,
        "profile": profile,
        "episodes": list(Episode.objects.filter(patient=patient).order_by("onset")),
        "checkins": list(
            CheckIn.objects.filter(patient=patient)
            .order_by("occurred_at", "id")
            .prefetch_related(Prefetch("redflag_events", queryset=RedFlagEvent.objects.order_by("id")))
        ),
        "red_flags": list(
            RedFlagEvent.objects.filter(patient=patient).select_related("checkin").order_by("occurred_at", "id")
        ),
        "applications": list(Application.objects.filter(patient=patient).order_by("started_at", "id")),
        "rest": list(RestPeriod.objects.filter(patient=patient).order_by("started_at", "id")),
        "medications": list(MedicationIntake.objects.filter(patient=patient).order_by("taken_at", "id")),
        "activities": list(Activity.objects.filter(patient=patient).order_by("started_at", "id")),
        "prescriptions": list(
            Prescription.objects.filter(episode__patient=patient).select_related("created_by").order_by("created_at")
        ),
        "reminders": list(Reminder.objects.filter(patient=patient).order_by("due_at", "id")),
        "devices": [
            {
                "id": device_public_id(kind, device),
                "type": kind,
                "name": device.name,
                "active": device.active,
                "date_created": device.date_created,
            }
            for kind, device in device_list(user=patient)
        ],
        "care_links": list(
            CareLink.objects.filter(patient=patient).select_related("physiotherapist").order_by("consented_at")
        ),
        "care_notes": list(CareNote.objects.filter(patient=patient).select_related("author").order_by("created_at")),
        "access_log": list(access_log_for_patient(patient=patient).order_by("at", "id")),
    }
