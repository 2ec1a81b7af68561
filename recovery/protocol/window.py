"""The part of an episode's application history that `engine.plan()` reads at `now`: re-planning stays flat.

Pure, like the engine. Every treatment write re-plans the episode; loading its whole history made a write cost
grow with every application ever recorded. The engine only ever looks at:
  * every running application (stop None: it may be closed at its cap now) and every one the server closed
    (auto_closed): their remove reminders are safety reminders, kept whatever their age;
  * the latest application by start (the start reminders' anchor; the skin pause after it when none runs);
  * those started from `now - ending.BUSY_LOOKBACK` on (the heat slots' busy times, and anything after `now`).
So the window is those, plus the latest one started before the lookback (the anchor when none is recent).
tests/recovery/protocol/test_window_properties.py proves plan() identical on the window and on the whole.
"""

from collections.abc import Iterable
from datetime import datetime

from .ending import BUSY_LOOKBACK


def needed_since(now: datetime) -> datetime:
    """Applications started at or after this instant are all kept."""
    return now - BUSY_LOOKBACK


def needed(applications: Iterable, now: datetime) -> tuple:
    """The applications the engine reads at `now`, in their given order (the engine sorts by start, stably;
    among equal starts the last one given counts as the latest, as in the engine)."""
    applications = tuple(applications)
    since = needed_since(now)
    older = sorted((a for a in applications if a.start < since), key=lambda a: a.start)
    anchor = older[-1] if older else None
    return tuple(a for a in applications if a is anchor or a.stop is None or a.auto_closed or a.start >= since)
