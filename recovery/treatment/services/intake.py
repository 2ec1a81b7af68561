"""Medication intakes and walks: finished facts logged under a client id. The same body again is a replay
(200), another body under the same id a conflict (409). No two walks of an episode overlap."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Invalid
from backcare.core.replay import Written, insert_once, payload_hash, replay_stored
from recovery.episodes.models import CLOCK_SKEW, Episode
from recovery.reminders.planning import replans_episode
from recovery.treatment.models import Activity, MedicationClass, MedicationIntake
from recovery.treatment.services.records import episode_for_write, overlap_conflict, resolution_check

# Sane single doses in mg, per class. They catch typing slips (a dose in micrograms, a decimal point
# lost), not prescriptions: the lowest and highest single doses on the market for each class.
DOSE_RANGES_MG: dict[str, tuple[Decimal, Decimal]] = {
    MedicationClass.NSAID: (Decimal("1"), Decimal("1000")),  # low-dose aspirin 75 mg ... naproxen 1000 mg
    MedicationClass.ACETAMINOPHEN: (Decimal("1"), Decimal("1300")),  # ... 1300 mg extended release
    MedicationClass.MUSCLE_RELAXANT: (Decimal("0.5"), Decimal("1500")),  # tizanidine 2 mg ... methocarbamol 1500 mg
    MedicationClass.OPIOID: (Decimal("0.5"), Decimal("300")),  # hydromorphone 2 mg ... tramadol 300 mg
    MedicationClass.OTHER: (Decimal("0.1"), Decimal("5000")),
}
ACTIVITY_MAX_MINUTES = 600


@replans_episode
def medication_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    med_class: str,
    dose_mg: Decimal,
    taken_at: datetime | None = None,
    name: str = "",
    episode_id: uuid.UUID | None = None,
) -> Written:
    """Log one intake (default: now) under a client id.

    The single dose must lie in its class's range (DOSE_RANGES_MG). NSAID days, and the no-driving
    caution after a muscle relaxant or an opioid, follow from the intakes in the protocol engine.
    """
    content_hash = payload_hash(
        {"taken_at": taken_at, "med_class": med_class, "name": name, "dose_mg": dose_mg, "episode": episode_id}
    )

    def stored() -> MedicationIntake | None:
        rows = MedicationIntake.objects.filter(patient=patient, client_uuid=client_uuid)
        return replay_stored(rows, payload_hash=content_hash, what="medication")

    existing = stored()
    if existing is not None:
        return Written(existing, False)
    _dose_check(med_class=med_class, dose_mg=dose_mg)
    now = timezone.now()
    taken_at = taken_at or now
    if taken_at > now + CLOCK_SKEW:
        raise Invalid({"taken_at": ["Cannot be in the future."]})
    with transaction.atomic():
        episode = episode_for_write(patient=patient, episode_id=episode_id, at=taken_at, field="taken_at")
        resolution_check(episode, taken_at=taken_at)
        return insert_once(
            lambda: MedicationIntake.objects.create(
                patient=patient,
                client_uuid=client_uuid,
                payload_hash=content_hash,
                episode=episode,
                taken_at=taken_at,
                med_class=med_class,
                name=name,
                dose_mg=dose_mg,
            ),
            replay=stored,  # the same id stored meanwhile by a concurrent request
        )


def _dose_check(*, med_class: str, dose_mg: Decimal) -> None:
    if med_class not in DOSE_RANGES_MG:
        raise Invalid({"med_class": [f"Must be one of: {', '.join(DOSE_RANGES_MG)}."]})
    low, high = DOSE_RANGES_MG[med_class]
    if not low <= dose_mg <= high:
        raise Invalid(
            {"dose_mg": [f"A single {med_class} dose must be from {low} to {high} mg; check the unit and the number."]}
        )


@replans_episode
def activity_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    kind: str,
    started_at: datetime,
    minutes: int,
    pain_before: int,
    pain_after: int,
    episode_id: uuid.UUID | None = None,
) -> Written:
    """Log a finished walk with the pain before and after.

    A walk must be over (its end not in the future) and must not overlap another walk of the episode.
    """
    content_hash = payload_hash(
        {
            "kind": kind,
            "started_at": started_at,
            "minutes": minutes,
            "pain_before": pain_before,
            "pain_after": pain_after,
            "episode": episode_id,
        }
    )

    def stored() -> Activity | None:
        rows = Activity.objects.filter(patient=patient, client_uuid=client_uuid)
        return replay_stored(rows, payload_hash=content_hash, what="activity")

    existing = stored()
    if existing is not None:
        return Written(existing, False)
    _activity_check(kind=kind, started_at=started_at, minutes=minutes, pain_before=pain_before, pain_after=pain_after)
    with transaction.atomic():
        episode = episode_for_write(patient=patient, episode_id=episode_id, at=started_at, field="started_at")
        # A concurrent request with the same id may have stored it while this one waited for the episode.
        existing = stored()
        if existing is not None:
            return Written(existing, False)
        resolution_check(episode, started_at=started_at)
        _walk_overlap_check(episode=episode, started_at=started_at, minutes=minutes)
        return insert_once(
            lambda: Activity.objects.create(
                patient=patient,
                client_uuid=client_uuid,
                payload_hash=content_hash,
                episode=episode,
                kind=kind,
                started_at=started_at,
                minutes=minutes,
                pain_before=pain_before,
                pain_after=pain_after,
            ),
            replay=stored,
        )


def _activity_check(*, kind: str, started_at: datetime, minutes: int, pain_before: int, pain_after: int) -> None:
    """The walk's own values in range, and the walk over by now."""
    errors = {}
    if kind not in Activity.Kind.values:
        errors["kind"] = [f"Must be one of: {', '.join(Activity.Kind.values)}."]
    if not 1 <= minutes <= ACTIVITY_MAX_MINUTES:
        errors["minutes"] = [f"Must be from 1 to {ACTIVITY_MAX_MINUTES}."]
    for name, pain in (("pain_before", pain_before), ("pain_after", pain_after)):
        if not 0 <= pain <= 10:
            errors[name] = ["Must be from 0 to 10."]
    if errors:
        raise Invalid(errors)
    now = timezone.now()
    if started_at > now + CLOCK_SKEW:
        raise Invalid({"started_at": ["Cannot be in the future."]})
    if started_at + timedelta(minutes=minutes) > now + CLOCK_SKEW:
        raise Invalid({"minutes": ["The walk would end in the future: log it once it is over."]})


def _walk_overlap_check(*, episode: Episode, started_at: datetime, minutes: int) -> None:
    ends_at = started_at + timedelta(minutes=minutes)
    nearby = Activity.objects.filter(
        episode=episode,
        started_at__lt=ends_at,
        started_at__gt=started_at - timedelta(minutes=ACTIVITY_MAX_MINUTES),
    ).order_by("started_at", "id")
    for other in nearby:
        other_ends = other.started_at + timedelta(minutes=other.minutes)
        if other_ends > started_at:
            raise overlap_conflict("walk", other.client_uuid, other.started_at, other_ends)
