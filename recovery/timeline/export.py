"""What the exports share (instants as text, a file to download), and the patient's whole record as JSON.

Builders only: the caller decides who may read the patient (recovery.care for a physiotherapist, the
patient themself) and records the access. Each builder runs a constant number of queries. The FHIR
Bundle is built in recovery.timeline.fhir, the CSV in recovery.timeline.csv.

Instants are written in the patient's IANA zone *with their UTC offset* (2026-11-20T13:00:00+01:00),
never naive, so a reader needs no zone to know the instant and still sees the patient's local clock.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import timezone

from backcare.accounts.models import User
from backcare.accounts.selectors import profile_zone
from backcare.audit.selectors import access_log_for_patient
from backcare.push.selectors import device_list, device_public_id
from recovery.care.models import CareLink, CareNote
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent
from recovery.outcomes.models import QuestionnaireResponse
from recovery.reminders.models import Reminder
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, RestPeriod


@dataclass(frozen=True)
class Download:
    """A file to answer with: its bytes, media type and name."""

    body: bytes
    content_type: str
    filename: str


def instant_text(value: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 in the patient's zone with its offset; milliseconds only when there are any."""
    if value is None:
        return None
    local = value.astimezone(zone)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


# --- everything of a patient, as JSON --------------------------------------------------------------


def patient_data_for_export(*, patient: User) -> dict[str, Any]:
    """Every record the patient has here, for the export serializer. About 20 queries, whatever the history."""
    profile = getattr(patient, "profile", None)
    return {
        "exported_at": timezone.now(),
        "timezone": profile_zone(user=patient).key,
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
        "reminders": list(Reminder.objects.filter(patient=patient, recipient=None).order_by("due_at", "id")),
        "questionnaire_responses": list(
            QuestionnaireResponse.objects.filter(patient=patient)
            .select_related("questionnaire")
            .order_by("occurred_at", "id")
        ),
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
