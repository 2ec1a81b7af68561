"""What every write of a timed record (application, rest, medication, walk) checks: which episode it belongs
to, that its instants make sense, that it is not after the episode's resolution, that it overlaps nothing."""

import uuid
from datetime import datetime

from backcare.accounts.models import User
from backcare.core.errors import Conflict, Invalid
from recovery.episodes.models import CLOCK_SKEW, Episode


def episode_for_write(*, patient: User, episode_id: uuid.UUID | None, at: datetime, field: str) -> Episode:
    """The episode a record at `at` belongs to (the one named, else the latest begun by then), locked so that
    writes to one episode are serialised. `field` names the instant in the error when it precedes the onset."""
    episodes = Episode.objects.select_for_update(no_key=True).filter(patient=patient)
    if episode_id is not None:
        episode = episodes.filter(pk=episode_id).first()
        if episode is None:
            raise Invalid({"episode": ["No such episode."]})
    else:
        episode = episodes.filter(onset__lte=at + CLOCK_SKEW).order_by("-onset").first()
        if episode is None:
            raise Invalid({"episode": ["You have no episode at that time; open one first."]})
    if at < episode.onset - CLOCK_SKEW:
        raise Invalid({field: ["Cannot be before the episode's onset."]})
    return episode


def instants_check(*, start: datetime, stop: datetime | None, now: datetime) -> None:
    """A start (and a stop, if given) not in the future, the stop after the start."""
    errors = {}
    if start > now + CLOCK_SKEW:
        errors["started_at"] = ["Cannot be in the future."]
    if stop is not None:
        if stop > now + CLOCK_SKEW:
            errors["stopped_at"] = ["Cannot be in the future."]
        elif stop <= start:
            errors["stopped_at"] = ["Must be after started_at."]
    if errors:
        raise Invalid(errors)


def resolution_check(episode: Episode, **instants: datetime | None) -> None:
    """Nothing is recorded in a resolved episode after its resolution."""
    if episode.resolved_at is None:
        return
    limit = episode.resolved_at + CLOCK_SKEW
    errors = {
        name: [f"Cannot be after the episode was resolved ({episode.resolved_at.isoformat()})."]
        for name, at in instants.items()
        if at is not None and at > limit
    }
    if errors:
        raise Invalid(errors)


def overlap_conflict(what: str, other_id: uuid.UUID, start: datetime, stop: datetime | None) -> Conflict:
    """The 409 of a record that would overlap another of its kind: it names the other one."""
    until = stop.isoformat() if stop is not None else "now (it is still running)"
    overlaps = {"id": str(other_id), "started_at": start.isoformat()}
    if stop is not None:
        overlaps["stopped_at"] = stop.isoformat()
    return Conflict(
        {
            "detail": f"This {what} overlaps the one recorded from {start.isoformat()} to {until}; "
            f"{what}s cannot overlap.",
            "overlaps": overlaps,
        }
    )
