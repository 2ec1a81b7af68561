"""Wall-clock helpers across DST changes. Expected instants are worked out by hand from the zone rules."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from recovery.protocol.localtime import in_window, local_date, out_of_window, wall_to_utc, window_end_after

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # Spring-forward gaps: the skipped wall time moves forward by the gap.
        ("Europe/London", date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30)),  # 02:30 BST
        ("Europe/Berlin", date(2026, 3, 29), time(2, 15), utc(2026, 3, 29, 1, 15)),  # 03:15 CEST
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),  # 03:30 EDT
        ("America/St_Johns", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 6, 0)),  # 03:30 NDT (-2:30)
        ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16, 30)),  # 03:30 AEDT
        ("Pacific/Chatham", date(2026, 9, 27), time(3, 0), utc(2026, 9, 26, 14, 15)),  # 04:00 +13:45
    ],
)
def test_wall_to_utc_in_a_gap_moves_forward_by_the_gap(zone, day, at, expected):
    assert wall_to_utc(day, at, ZoneInfo(zone)) == expected


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # Autumn folds: a wall time shown twice maps to its first showing (summer time).
        ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30)),  # BST
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),  # EDT
        ("America/St_Johns", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 4, 0)),  # NDT
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30)),  # AEDT
        ("Pacific/Chatham", date(2026, 4, 5), time(3, 0), utc(2026, 4, 4, 13, 15)),  # +13:45
    ],
)
def test_wall_to_utc_in_a_fold_takes_the_first_occurrence(zone, day, at, expected):
    assert wall_to_utc(day, at, ZoneInfo(zone)) == expected


def test_wall_to_utc_outside_changes_and_without_dst():
    assert wall_to_utc(date(2026, 6, 1), time(9, 0), LONDON) == utc(2026, 6, 1, 8, 0)
    assert wall_to_utc(date(2026, 12, 1), time(9, 0), LONDON) == utc(2026, 12, 1, 9, 0)
    assert wall_to_utc(date(2026, 6, 1), time(9, 0), ZoneInfo("Asia/Kolkata")) == utc(2026, 6, 1, 3, 30)
    assert wall_to_utc(date(2026, 6, 1), time(9, 0), UTC) == utc(2026, 6, 1, 9, 0)
    assert wall_to_utc(date(2026, 1, 1), time(0, 0), ZoneInfo("Pacific/Chatham")) == utc(2025, 12, 31, 10, 15)


def test_in_window_across_midnight():
    zone, start, end = LONDON, time(23, 0), time(7, 0)

    def local(h, m, s=0):
        return datetime(2026, 6, 1, h, m, s, tzinfo=LONDON).astimezone(UTC)

    assert in_window(local(23, 0), zone, start, end)  # start inclusive
    assert in_window(local(23, 59, 59), zone, start, end)
    assert in_window(local(0, 0), zone, start, end)
    assert in_window(local(3, 0), zone, start, end)
    assert in_window(local(6, 59, 59), zone, start, end)
    assert not in_window(local(7, 0), zone, start, end)  # end exclusive
    assert not in_window(local(12, 0), zone, start, end)
    assert not in_window(local(22, 59, 59), zone, start, end)  # minute-granular: 22:59 is awake


def test_in_window_same_day_and_empty_windows():
    def local(h, m):
        return datetime(2026, 6, 1, h, m, tzinfo=LONDON).astimezone(UTC)

    assert in_window(local(14, 0), LONDON, time(13, 0), time(15, 0))
    assert not in_window(local(15, 0), LONDON, time(13, 0), time(15, 0))
    assert not in_window(local(0, 30), LONDON, time(13, 0), time(15, 0))
    assert not in_window(local(14, 0), LONDON, time(14, 0), time(14, 0))  # start == end: empty


def test_in_window_uses_the_local_clock_of_the_instant():
    # 22:30 UTC is 23:30 BST in summer (asleep) and 22:30 GMT in winter (awake).
    assert in_window(utc(2026, 6, 1, 22, 30), LONDON, time(23, 0), time(7, 0))
    assert not in_window(utc(2026, 12, 1, 22, 30), LONDON, time(23, 0), time(7, 0))
    # The repeated hour of the autumn fold is inside a 23:00-07:00 window both times.
    assert in_window(utc(2026, 10, 25, 0, 30), LONDON, time(23, 0), time(7, 0))  # 01:30 BST
    assert in_window(utc(2026, 10, 25, 1, 30), LONDON, time(23, 0), time(7, 0))  # 01:30 GMT


@pytest.mark.parametrize(
    ("instant", "zone", "end", "expected"),
    [
        # Spring: the night is an hour shorter, 23:30 GMT -> 07:00 BST is 6.5 real hours.
        (utc(2026, 3, 28, 23, 30), LONDON, time(7, 0), utc(2026, 3, 29, 6, 0)),
        # Autumn: 23:30 BST -> 07:00 GMT is 8.5 real hours.
        (utc(2026, 10, 24, 22, 30), LONDON, time(7, 0), utc(2026, 10, 25, 7, 0)),
        # New York spring forward on 2026-03-08: 22:00 EST -> 06:30 EDT.
        (utc(2026, 3, 8, 3, 0), NEW_YORK, time(6, 30), utc(2026, 3, 8, 10, 30)),
        # Sydney spring forward on 2026-10-04: 22:00 AEST -> 07:00 AEDT.
        (utc(2026, 10, 3, 12, 0), SYDNEY, time(7, 0), utc(2026, 10, 3, 20, 0)),
        # Exactly at the end: the first instant *after* is the next day's.
        (utc(2026, 6, 1, 6, 0), LONDON, time(7, 0), utc(2026, 6, 2, 6, 0)),
        # Just before the end, same day.
        (utc(2026, 6, 1, 5, 59), LONDON, time(7, 0), utc(2026, 6, 1, 6, 0)),
        # The end wall time falls in the gap: it moves forward by the gap (02:30 BST).
        (utc(2026, 3, 28, 23, 0), LONDON, time(1, 30), utc(2026, 3, 29, 1, 30)),
        # The end wall time is shown twice; from before the first showing, the first showing.
        (utc(2026, 10, 24, 22, 0), LONDON, time(1, 30), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_window_end_after_across_dst_days(instant, zone, end, expected):
    assert window_end_after(instant, zone, end) == expected


def test_window_end_after_from_inside_the_repeated_hour_is_the_second_showing():
    # BUG (engine owner): 01:10 GMT on 2026-10-25 is after the first showing of 01:30 (00:30 UTC)
    # and before the second (01:30 UTC). "The first instant after `instant` at which the local
    # clock shows `end`" is 01:30 UTC the same night; window_end_after only tries fold=0 and
    # returns 2026-10-26 01:30 UTC, a whole day later. In the engine this postpones a start
    # reminder by a day (see test_engine_units.test_start_in_the_repeated_hour_is_not_postponed_a_day).
    instant = datetime(2026, 10, 25, 1, 10, tzinfo=LONDON, fold=1).astimezone(UTC)
    assert instant == utc(2026, 10, 25, 1, 10)
    assert window_end_after(instant, LONDON, time(1, 30)) == utc(2026, 10, 25, 1, 30)


def test_out_of_window_moves_only_instants_inside():
    awake = utc(2026, 6, 1, 12, 0)
    assert out_of_window(awake, LONDON, time(23, 0), time(7, 0)) == awake
    asleep = utc(2026, 6, 1, 23, 0)  # 00:00 BST
    assert out_of_window(asleep, LONDON, time(23, 0), time(7, 0)) == utc(2026, 6, 2, 6, 0)


def test_local_date_around_midnight_and_dst():
    assert local_date(utc(2026, 6, 1, 23, 30), LONDON) == date(2026, 6, 2)  # 00:30 BST
    assert local_date(utc(2026, 12, 1, 23, 30), LONDON) == date(2026, 12, 1)
    assert local_date(utc(2026, 6, 1, 23, 30), ZoneInfo("Pacific/Chatham")) == date(2026, 6, 2)
    assert local_date(utc(2026, 6, 2, 2, 0), NEW_YORK) == date(2026, 6, 1)
