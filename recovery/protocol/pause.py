"""Paused after an emergency answer. Pure: no Django, no clock.

From an emergency red-flag answer until the patient resumes the plan (or resolves the episode) the self-care
reminders stop: no ice or heat start, check-in, review, movement or rest nudge. What is a matter of safety
goes on: the remove reminder of an application still on (the engine plans those before anything else). One
new reminder takes their place: `help_check_after_min` after the pause began, "did you get help?".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

HELP_CHECK = "help_check"


@dataclass(frozen=True)
class Pause:
    key: str  # stable per pause: the help check's slot
    since: datetime


def is_paused(pause: Pause | None, now: datetime) -> bool:
    # The episode's pause starts no later than the server stored the answer (recovery/episodes/services.py).
    return pause is not None and pause.since <= now


def help_check(pause: Pause, help_check_after_min: int) -> tuple[str, datetime, str]:
    """(kind, due, slot) of the pause's one reminder. Due at its time even at night: whoever answered an
    emergency two hours ago is most likely awake, and the answer decides whether the plan comes back."""
    return HELP_CHECK, pause.since + timedelta(minutes=help_check_after_min), f"{HELP_CHECK}:{pause.key}"
