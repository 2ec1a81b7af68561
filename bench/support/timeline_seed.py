"""Seed the timeline benchmark's data: `python -m bench.support.timeline_seed` (bench settings, bench database).

One physiotherapist linked to `--patients` patients (default 500). Patient 0 is dense: a 90-day episode
with 3 check-ins a day, every ice and heat application the protocol plans in waking hours (20 min on,
90 min off), every reminder (start and remove of each application, the evening check-in, a sitting
break every 30 min for a desk worker), sent and mostly acknowledged, medication, rest, walks, red
flags, notes and prescriptions. The others have an episode of 1 to 21 days, with the same kinds of
data at a lighter rate, so every signal of the triage queue has something to compute.

Rows are bulk-inserted (one password hash shared by all); prints one JSON object on stdout:
{"physio_token", "patient_token", "dense_patient_id", "rows": {...}}.
"""

import argparse
import json
import random
import sys
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from push_notifications.models import WebPushDevice  # noqa: E402

from backcare.accounts.models import Profile, Role, User  # noqa: E402
from recovery.care.models import CareLink, CareNote  # noqa: E402
from recovery.episodes.models import CheckIn, Episode, RedFlagEvent  # noqa: E402
from recovery.reminders.models import Delivery, Reminder  # noqa: E402
from recovery.treatment.models import Activity, Application, MedicationIntake, Prescription, ProtocolVersion, RestPeriod  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"]
PASSWORD = "Bench-Spasm-Pass-4821"
CYCLE = timedelta(minutes=110)
ON = timedelta(minutes=20)
WAKE, SLEEP = time(7, 0), time(23, 0)
BATCH = 5000


class Rows:
    def __init__(self):
        self.by_model: dict[type, list] = {}

    def add(self, obj) -> None:
        self.by_model.setdefault(type(obj), []).append(obj)

    def flush(self, *models) -> dict[str, int]:
        counts = {}
        for model in models:
            objs = self.by_model.pop(model, [])
            model.objects.bulk_create(objs, batch_size=BATCH)
            counts[model.__name__] = len(objs)
        return counts


def _waking_starts(day_start: datetime, zone: ZoneInfo, now: datetime):
    """Application starts of one local day: every 110 min from wake-up until the last that ends before sleep."""
    local = day_start.astimezone(zone).date()
    at = datetime.combine(local, WAKE, zone).astimezone(UTC)
    end = datetime.combine(local, SLEEP, zone).astimezone(UTC)
    while at + ON <= end and at + ON <= now:
        yield at
        at += CYCLE


def seed_patient(
    rows: Rows, *, patient: User, zone: ZoneInfo, onset: datetime, now: datetime, dense: bool, rng: random.Random
):
    episode = Episode(
        patient=patient,
        onset=onset,
        trigger="lifting",
        protocol_version_id=PROTOCOL_ID,
        created_at=onset,
    )
    rows.add(episode)
    days = (now - onset).days + 1
    checkins = []
    flagged = dense or rng.random() < 0.05
    slot = 0
    for day in range(days):
        day_start = onset + timedelta(days=day)
        local_day = day_start.astimezone(zone).date()
        # Three check-ins a day (morning, afternoon, evening), pain easing over the weeks.
        for hour in (8, 14, 20):
            at = datetime.combine(local_day, time(hour, rng.randrange(60)), zone).astimezone(UTC)
            if not onset <= at <= now:
                continue
            pain = max(0, min(10, 8 - day // 3 + rng.randrange(-1, 2)))
            checkin = CheckIn(
                patient=patient,
                episode=episode,
                client_uuid=uuid.uuid4(),
                occurred_at=at,
                pain=pain,
                stiffness=max(0, pain - 1),
                water_glasses=rng.randrange(0, 9),
                payload_hash="bench",
            )
            rows.add(checkin)
            checkins.append(checkin)
        # Ice for 72 h, moist heat after; dense: every planned application, others: three a day.
        starts = list(_waking_starts(day_start, zone, now))
        if not dense:
            starts = starts[:: max(1, len(starts) // 3)][:3]
        for start in starts:
            if start < onset:
                continue
            kind = "ice" if start < onset + timedelta(hours=72) else "heat"
            rows.add(
                Application(
                    patient=patient,
                    episode=episode,
                    client_uuid=uuid.uuid4(),
                    kind=kind,
                    started_at=start,
                    stopped_at=start + ON,
                )
            )
            for name, due in ((f"{kind}_start", start - timedelta(minutes=1)), (f"{kind}_stop", start + ON)):
                slot += 1
                acked = rng.random() < 0.8
                rows.add(
                    Reminder(
                        patient=patient,
                        episode=episode,
                        kind=name,
                        slot=f"{name}:{slot}",
                        due_at=due,
                        safety=name.endswith("_stop"),
                        status=Reminder.Status.SENT,
                        attempts=1,
                        sent_at=due + timedelta(seconds=1),
                        acknowledged_at=due + timedelta(minutes=1) if acked else None,
                        ack_action=Reminder.Action.DONE if acked else "",
                    )
                )
        checkin_due = datetime.combine(local_day, time(19, 0), zone).astimezone(UTC)
        if onset <= checkin_due <= now:
            slot += 1
            rows.add(
                Reminder(
                    patient=patient,
                    episode=episode,
                    kind="checkin",
                    slot=f"checkin:{slot}",
                    due_at=checkin_due,
                    status=Reminder.Status.SENT,
                    attempts=1,
                    sent_at=checkin_due + timedelta(seconds=1),
                )
            )
        if dense:  # a desk worker: a sitting break every 30 min of the working day
            at = datetime.combine(local_day, time(9, 0), zone).astimezone(UTC)
            while at <= datetime.combine(local_day, time(17, 0), zone).astimezone(UTC) and at <= now:
                if at >= onset:
                    slot += 1
                    rows.add(
                        Reminder(
                            patient=patient,
                            episode=episode,
                            kind="sitting_break",
                            slot=f"sitting_break:{slot}",
                            due_at=at,
                            status=Reminder.Status.SENT,
                            attempts=1,
                            sent_at=at + timedelta(seconds=1),
                        )
                    )
                at += timedelta(minutes=30)
        if day < 10:
            for hour in (9, 21):
                at = datetime.combine(local_day, time(hour, 0), zone).astimezone(UTC)
                if onset <= at <= now:
                    rows.add(
                        MedicationIntake(
                            patient=patient,
                            episode=episode,
                            client_uuid=uuid.uuid4(),
                            taken_at=at,
                            med_class="nsaid",
                            name="ibuprofen",
                            dose_mg=Decimal("400"),
                            payload_hash="bench",
                            created_at=at,
                        )
                    )
        if day < 2:
            at = datetime.combine(local_day, time(12, 0), zone).astimezone(UTC)
            if onset <= at and at + timedelta(hours=3) <= now:
                rows.add(
                    RestPeriod(
                        patient=patient,
                        episode=episode,
                        client_uuid=uuid.uuid4(),
                        started_at=at,
                        stopped_at=at + timedelta(hours=3),
                    )
                )
        if day >= 3:
            at = datetime.combine(local_day, time(17, 30), zone).astimezone(UTC)
            if onset <= at <= now - timedelta(minutes=30):
                rows.add(
                    Activity(
                        patient=patient,
                        episode=episode,
                        client_uuid=uuid.uuid4(),
                        started_at=at,
                        minutes=20 + min(day, 40),
                        pain_before=3,
                        pain_after=2,
                        payload_hash="bench",
                    )
                )
    return episode, checkins, flagged, days


PROTOCOL_ID = None


def main() -> int:
    global PROTOCOL_ID
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--dense-days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = timezone.now()
    PROTOCOL_ID = ProtocolVersion.objects.order_by("-version").values_list("pk", flat=True).first()
    password = make_password(PASSWORD)
    counts: dict[str, int] = {}

    with transaction.atomic():
        physio = User.objects.create(
            email="bench-physio@example.com", password=password, display_name="Bench Physio", role=Role.PHYSIOTHERAPIST
        )
        Profile.objects.create(user=physio, timezone="Europe/Berlin")
        patients = User.objects.bulk_create(
            [
                User(email=f"bench-patient-{i}@example.com", password=password, display_name=f"Patient {i:03}")
                for i in range(args.patients)
            ]
        )
        zones = {p.pk: ZoneInfo(ZONES[i % len(ZONES)]) for i, p in enumerate(patients)}
        Profile.objects.bulk_create(
            [Profile(user=p, timezone=zones[p.pk].key, desk_worker=i == 0) for i, p in enumerate(patients)]
        )
        CareLink.objects.bulk_create(
            [
                CareLink(
                    patient=p,
                    physiotherapist=physio,
                    consented_at=now - timedelta(days=100),
                    last_reviewed_at=now - timedelta(days=rng.randrange(1, 6)) if i % 3 else None,
                )
                for i, p in enumerate(patients)
            ]
        )
        WebPushDevice.objects.bulk_create(
            [
                WebPushDevice(
                    user=p,
                    registration_id=f"https://127.0.0.1:9/push/bench-{p.pk}",
                    p256dh="x" * 87,
                    auth="y" * 22,
                    active=True,
                )
                for i, p in enumerate(patients)
                if i % 10
            ]
        )

        rows = Rows()
        seeded = []
        for i, patient in enumerate(patients):
            dense = i == 0
            onset = now - (
                timedelta(days=args.dense_days, hours=2)
                if dense
                else timedelta(days=1 + i % 21, hours=rng.randrange(24))
            )
            seeded.append(
                (
                    patient,
                    *seed_patient(
                        rows, patient=patient, zone=zones[patient.pk], onset=onset, now=now, dense=dense, rng=rng
                    ),
                )
            )
        counts.update(rows.flush(Episode, CheckIn, Application, RestPeriod, MedicationIntake, Activity, Reminder))

        # Red flags on the check-ins that exist now; notes and prescriptions on some episodes.
        flags, notes, prescriptions, resolved = [], [], [], []
        for i, (patient, episode, checkins, flagged, days) in enumerate(seeded):
            if flagged and checkins:
                for checkin, code, level in (
                    (checkins[len(checkins) // 3], "leg_numbness", "urgent"),
                    (checkins[-1], "bowel_bladder_loss", "emergency"),
                )[: 2 if i == 0 else 1]:
                    flags.append(
                        RedFlagEvent(
                            patient=patient,
                            episode=episode,
                            checkin=checkin,
                            code=code,
                            level=level,
                            question=f"{code}?",
                            guidance="See a doctor.",
                            ruleset_version=1,
                            occurred_at=checkin.occurred_at,
                        )
                    )
            if i == 0 or i % 10 == 1:
                for week in range(0, days, 7):
                    notes.append(
                        CareNote(
                            patient=patient,
                            author=physio,
                            episode=episode,
                            text=f"Week {week // 7 + 1}: reviewed",
                            created_at=episode.onset + timedelta(days=week, hours=10),
                        )
                    )
                prescriptions.append(
                    Prescription(episode=episode, overrides={"ice_on_min": 15}, note="gentler", created_by=physio)
                )
            if i % 10 == 9 and days > 14:
                resolved.append(episode.pk)
        RedFlagEvent.objects.bulk_create(flags, batch_size=BATCH)
        CareNote.objects.bulk_create(notes, batch_size=BATCH)
        Prescription.objects.bulk_create(prescriptions, batch_size=BATCH)
        Episode.objects.filter(pk__in=resolved).update(status=Episode.Status.RESOLVED, resolved_at=now)
        counts.update(RedFlagEvent=len(flags), CareNote=len(notes), Prescription=len(prescriptions))

        # One delivery per device for the reminders sent in the last two days (the "delivered in 48 h" signal).
        devices = dict(WebPushDevice.objects.values_list("user_id", "pk"))
        deliveries = [
            Delivery(
                reminder_id=reminder_id,
                device_type="webpush",
                device_id=devices[patient_id],
                status=Delivery.Status.SENT,
                attempts=1,
                next_attempt_at=sent_at,
                last_status_code=201,
                sent_at=sent_at,
            )
            for reminder_id, patient_id, sent_at in Reminder.objects.filter(
                sent_at__gte=now - timedelta(days=2), patient_id__in=devices
            ).values_list("pk", "patient_id", "sent_at")
        ]
        Delivery.objects.bulk_create(deliveries, batch_size=BATCH)
        counts["Delivery"] = len(deliveries)

    dense = patients[0]
    _, physio_token = AuthToken.objects.create(user=physio)
    _, patient_token = AuthToken.objects.create(user=dense)
    dense_events = {
        "checkins": CheckIn.objects.filter(patient=dense).count(),
        "applications": Application.objects.filter(patient=dense).count(),
        "reminders": Reminder.objects.filter(patient=dense).count(),
    }
    print(
        json.dumps(
            {
                "physio_token": physio_token,
                "patient_token": patient_token,
                "dense_patient_id": dense.pk,
                "rows": counts,
                "dense": dense_events,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
