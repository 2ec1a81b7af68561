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
    """Whether `instant` is inside the window [start, end) of the local clock (it may cross midnight).

    Inside when the clock reads inside, and also, near a change of offset, when the instant lies
    between the clock's first showing of `start` and its next showing of `end`. The union keeps
    sleep whole across an autumn fold either way: a window that starts in the repeated hour has no
    hole when the clock goes back to before its start, and one that ends in it lasts until the
    clock reads `end` the second time.
    """
    s, e = _minutes(start), _minutes(end)
    if s == e:
        return False
    now = _minutes(instant.astimezone(zone).time())
    if (s <= now < e) if s < e else (now >= s or now < e):
        return True
    if _same_offset_near(instant, zone):
        return False  # no offset change within a day: the clock's reading is the whole answer
    day = local_date(instant, zone)
    for start_day in (day - timedelta(days=1), day):
        begin = wall_to_utc(start_day, start, zone)
        if begin <= instant < window_end_after(begin, zone, end):
            return True
    return False


# A window is at most a day long: an offset change further away than this cannot affect it.
_NEAR = timedelta(hours=26)


def _same_offset_near(instant: datetime, zone: ZoneInfo) -> bool:
    return (instant - _NEAR).astimezone(zone).utcoffset() == (instant + _NEAR).astimezone(zone).utcoffset()


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
