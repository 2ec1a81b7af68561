"""Bed rest: start it now, or record one made offline (with its stop); stop it; end it with its episode.

A replay (same id, and the same start when it names one) answers the stored period and may carry its stop.
No two rest periods of an episode overlap: a new one that would is refused with 409 naming the other, so an
offline queue replayed out of order is merged in time order where it fits and refused where it does not.
"""

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Invalid, NotFound
from backcare.core.replay import Written, insert_once, replay_or_conflict
from recovery.episodes.models import Episode
from recovery.reminders.planning import replans_episode
from recovery.treatment.models import RestPeriod
from recovery.treatment.services.records import episode_for_write, instants_check, overlap_conflict, resolution_check
from recovery.treatment.services.running import running_stop


def _rest_locked(*, patient: User, client_uuid: uuid.UUID) -> RestPeriod | None:
    return (
        RestPeriod.objects.select_for_update(of=("self",))
        .select_related("episode")
        .filter(patient=patient, client_uuid=client_uuid)
        .first()
    )


def _rest_overlapping(*, episode: Episode, start: datetime, stop: datetime | None) -> RestPeriod | None:
    """The earliest rest period of the episode sharing time with [start, stop); a running one lasts until now and on."""
    rests = RestPeriod.objects.filter(episode=episode).filter(Q(stopped_at__isnull=True) | Q(stopped_at__gt=start))
    if stop is not None:
        rests = rests.filter(started_at__lt=stop)
    return rests.order_by("started_at", "id").first()


@replans_episode
def rest_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    episode_id: uuid.UUID | None = None,
) -> Written:
    """Start bed rest now, or record one made offline (with its stop); replay-safe (see the module's rules)."""
    now = timezone.now()
    start = started_at or now

    def stored() -> RestPeriod | None:
        """The period stored under this id, stopped if this replay carries a stop; 409 if it is another."""
        existing = replay_or_conflict(
            _rest_locked(patient=patient, client_uuid=client_uuid),
            same=lambda rest: (
                (started_at is None or rest.started_at == started_at)
                and (episode_id is None or rest.episode_id == episode_id)
            ),
            conflict={"id": ["This id was already used for a different rest period."]},
        )
        if existing is not None and stopped_at is not None:
            running_stop(record=existing, stopped_at=stopped_at, now=now)
        return existing

    instants_check(start=start, stop=stopped_at, now=now)
    with transaction.atomic():
        existing = stored()
        if existing is None:
            episode = episode_for_write(patient=patient, episode_id=episode_id, at=start, field="started_at")
            # A concurrent request with the same id may have stored it while this one waited for the episode.
            existing = stored()
        if existing is not None:
            return Written(existing, False)
        _rest_fits(episode=episode, start=start, stop=stopped_at)
        return insert_once(
            lambda: RestPeriod.objects.create(
                patient=patient, episode=episode, client_uuid=client_uuid, started_at=start, stopped_at=stopped_at
            ),
            replay=stored,  # the same id stored meanwhile into another episode by a concurrent request
        )


def _rest_fits(*, episode: Episode, start: datetime, stop: datetime | None) -> None:
    """A new period lies within its episode and overlaps no other."""
    resolution_check(episode, started_at=start, stopped_at=stop)
    if stop is None and episode.resolved_at is not None:
        raise Invalid({"stopped_at": ["Required: the episode is resolved, so this rest period has ended."]})
    clash = _rest_overlapping(episode=episode, start=start, stop=stop)
    if clash is not None:
        raise overlap_conflict("rest period", clash.client_uuid, clash.started_at, clash.stopped_at)


@replans_episode
def rest_stop(*, patient: User, client_uuid: uuid.UUID, stopped_at: datetime | None = None) -> RestPeriod:
    """Stop a running rest period (now, or at the instant given). A rest still running when its episode
    was resolved ends, when no instant is given, at the resolution."""
    now = timezone.now()
    with transaction.atomic():
        rest = _rest_locked(patient=patient, client_uuid=client_uuid)
        if rest is None:
            raise NotFound("No such rest period.")
        if rest.stopped_at is not None and stopped_at is None:
            raise Conflict(
                {
                    "detail": "This rest period is not running: nothing to stop.",
                    "stopped_at": rest.stopped_at.isoformat(),
                }
            )
        if stopped_at is None:
            resolved_at = rest.episode.resolved_at
            stopped_at = min(now, resolved_at) if resolved_at is not None else now
        return running_stop(record=rest, stopped_at=stopped_at, now=now)


def rest_stop_at_resolution(*, episode: Episode) -> None:
    """Bed rest cannot outlive its episode: the rest running when it was resolved ends at the resolution.
    The caller has just resolved the episode and holds its row lock."""
    now = timezone.now()
    running = RestPeriod.objects.select_for_update().filter(
        episode=episode, stopped_at__isnull=True, started_at__lt=episode.resolved_at
    )
    for rest in running:
        rest.episode = episode
        running_stop(record=rest, stopped_at=episode.resolved_at, now=now)
