"""Wall-clock arithmetic in a patient's IANA zone that stays right across DST changes. Pure."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the local clock shows `at` on `day`.

    A time skipped by a spring-forward gap moves forward by the gap (02:30 that never happened
    becomes 03:30); a time shown twice in autumn maps to its first showing. PEP 495's fold=0
    gives exactly both.
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def in_window(instant: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    """Whether the local clock at `instant` is in [start, end); the window may cross midnight."""
    now = _minutes(instant.astimezone(zone).time())
    s, e = _minutes(start), _minutes(end)
    if s == e:
        return False
    if s < e:
        return s <= now < e
    return now >= s or now < e


def wall_showings(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """Every instant the local clock really shows `at` on `day`: two in an autumn fold, else one.

    A time inside a spring gap is never shown; it maps forward by the gap as in wall_to_utc.
    """
    naive = datetime.combine(day, at)
    first = wall_to_utc(day, at, zone)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second != first and second.astimezone(zone).replace(tzinfo=None) == naive:
        return [first, second]
    return [first]


def window_end_after(instant: datetime, zone: ZoneInfo, end: time) -> datetime:
    """The first instant after `instant` at which the local clock shows `end` (folds included)."""
    day = local_date(instant, zone) - timedelta(days=1)
    for offset in range(4):
        for candidate in wall_showings(day + timedelta(days=offset), end, zone):
            if candidate > instant:
                return candidate
    raise AssertionError("unreachable: a wall time recurs at least every 26 hours")


def out_of_window(instant: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`instant`, or the end of the sleep window if `instant` falls inside it."""
    if in_window(instant, zone, start, end):
        return window_end_after(instant, zone, end)
    return instant
