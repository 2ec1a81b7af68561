"""Red flags that reach a clinician: raising an alert, acknowledging it, and the physiotherapist's open alerts.

An emergency answer alerts every active linked physiotherapist at once and again every
`clinician_realert_min` until one of them acknowledges, for at most `clinician_alert_window_min`; an urgent
answer alerts once. Every round is planned up front as an outbox row (Reminder, kind clinician_alert, one per
physiotherapist and round, recipient the physiotherapist), so the alert is as durable as any reminder and
needs no timer; acknowledging cancels the rounds still to come. The push names no symptom (a lock screen is
public): the physiotherapist opens the app to see who and why.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from backcare.accounts.models import User
from backcare.audit.services import AccessContext
from backcare.core.errors import NotFound
from recovery.care.selectors import patients_visible_to, physiotherapists_of_patient
from recovery.care.services import care_access_record
from recovery.episodes.models import Episode, RedFlagEvent
from recovery.protocol.definition import Protocol
from recovery.reminders.models import Reminder
from recovery.triage.models import ClinicianAlert

ALERT_KIND = "clinician_alert"
SEVERITY = {"emergency": 2, "urgent": 1}  # "soon" raises no alert: it is for the next review
ACTIVE = (Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED)
# How long an acknowledged alert stays on the physiotherapist's list, with who acknowledged it and when.
SHOWN_AFTER_ACK = timedelta(hours=24)


def alert_rounds(*, severity: str, protocol: Protocol) -> list[timedelta]:
    """Offsets from the raise of every push an alert makes: once for urgent, every re-alert interval within the
    window for an emergency (0, 5, ..., 55 min by default: the hour holds 12 pushes, the 13th would be past it)."""
    if severity != ClinicianAlert.Severity.EMERGENCY:
        return [timedelta(0)]
    step, window = protocol.clinician_realert_min, protocol.clinician_alert_window_min
    return [timedelta(minutes=step * n) for n in range(max(1, -(-window // step)))]


def clinician_alert_raise(
    *, episode: Episode, events: Iterable[RedFlagEvent], protocol: Protocol, now: datetime | None = None
) -> ClinicianAlert | None:
    """The alert for a check-in's red flags (its most severe one that alerts a physiotherapist), with its pushes
    to every active linked physiotherapist, in the caller's transaction. None when nothing alerts. An alert is
    recorded even when nobody is linked yet: the triage queue shows it to whoever links later."""
    flags = [e for e in events if e.alert_physiotherapist and e.level in SEVERITY]
    if not flags:
        return None
    now = now or timezone.now()
    top = max(flags, key=lambda e: SEVERITY[e.level])
    alert = ClinicianAlert.objects.create(
        patient_id=episode.patient_id, episode=episode, redflag_event=top, severity=top.level, raised_at=now
    )
    rounds = alert_rounds(severity=alert.severity, protocol=protocol)
    Reminder.objects.bulk_create(
        Reminder(
            patient_id=episode.patient_id,
            episode=episode,
            recipient_id=physio_id,
            kind=ALERT_KIND,
            slot=f"alert:{alert.pk}:{physio_id}:{n}",
            due_at=now + offset,
        )
        for physio_id in physiotherapists_of_patient(patient_id=episode.patient_id)
        for n, offset in enumerate(rounds)
    )
    return alert


def _alert_reminders(alert: ClinicianAlert) -> QuerySet[Reminder]:
    return Reminder.objects.filter(episode_id=alert.episode_id, kind=ALERT_KIND, slot__startswith=f"alert:{alert.pk}:")


def clinician_alert_acknowledge(
    *, physiotherapist: User, alert_id: int, access: AccessContext, now: datetime | None = None
) -> ClinicianAlert:
    """A linked physiotherapist takes the alert on: the rounds still to come, to every physiotherapist, are
    cancelled. Acknowledging one already acknowledged answers it as it is (who was first stays). Not linked (or
    no longer), or no such alert: 404. Audited ("patient.alert_acknowledged")."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = ClinicianAlert.objects.select_for_update(of=("self",)).filter(pk=alert_id).first()
        # Not linked (or no longer) answers exactly as an alert that does not exist: no oracle.
        if alert is None or alert.patient_id not in _visible_ids(physiotherapist, alert.patient_id):
            raise NotFound("No such alert.")
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = max(now, alert.raised_at), physiotherapist
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
            _alert_reminders(alert).filter(status__in=ACTIVE).update(
                status=Reminder.Status.CANCELLED, claim_expires_at=None, updated_at=now
            )
        care_access_record(
            physiotherapist=physiotherapist,
            patient_ids=[alert.patient_id],
            action="patient.alert_acknowledged",
            access=access,
        )
    return ClinicianAlert.objects.select_related("patient", "acknowledged_by").get(pk=alert.pk)


def _visible_ids(physiotherapist: User, patient_id: int) -> set[int]:
    return set(patients_visible_to(physiotherapist=physiotherapist).filter(pk=patient_id).values_list("pk", flat=True))


def clinician_alerts_for(*, physiotherapist: User, now: datetime | None = None) -> list[ClinicianAlert]:
    """The alerts of the physiotherapist's visible patients that belong at the top of their queue: every open one
    (emergency first, then oldest first), then those acknowledged in the last day (newest first)."""
    now = now or timezone.now()
    alerts = ClinicianAlert.objects.filter(patient__in=patients_visible_to(physiotherapist=physiotherapist)).filter(
        Q(acknowledged_at__isnull=True) | Q(acknowledged_at__gte=now - SHOWN_AFTER_ACK)
    )
    rows = list(alerts.select_related("patient", "acknowledged_by", "redflag_event")[:200])
    open_rows = sorted(
        (a for a in rows if a.acknowledged_at is None), key=lambda a: (-SEVERITY[a.severity], a.raised_at)
    )
    done = sorted((a for a in rows if a.acknowledged_at is not None), key=lambda a: a.acknowledged_at, reverse=True)
    return open_rows + done
