"""Worked golden examples: a patient who follows every reminder exactly, written out by hand.

The expected lists were computed from the rules, not from the engine:

- cycles of 110 min (20 min on, 90 min off) from the onset;
- a start inside the sleep window (23:00-07:00), or whose 20 min would run into it, moves to 07:00;
- the pause counts from the real end of the last application, so after a night the cycle restarts
  at 07:00 (07:00, 08:50, 10:40, 12:30, 14:20, 16:10, 18:00, 19:50, 21:40; 21:40 + 110 min = 23:30
  is in the window, so the next day starts at 07:00 again);
- ice while the start is before onset + 72 h (real hours, not wall hours), heat from then on.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from recovery.protocol.definition import Protocol
from recovery.protocol.engine import Application, Patient, Situation, plan

LONDON = ZoneInfo("Europe/London")
DAY_TIMES = ["07:00", "08:50", "10:40", "12:30", "14:20", "16:10", "18:00", "19:50", "21:40"]


def _plus20(hhmm: str) -> str:
    hours, minutes = map(int, hhmm.split(":"))
    total = hours * 60 + minutes + 20
    return f"{total // 60:02d}:{total % 60:02d}"


def _day(date: str, kind: str, starts: list[str]) -> list[tuple[str, str, str, str]]:
    return [(date, kind, start, _plus20(start)) for start in starts]


def follow_every_reminder(onset: datetime, patient: Patient, until: datetime) -> list[tuple[str, str, str, str]]:
    """Start at the due instant of the next start reminder, stop at the remove reminder."""
    protocol = Protocol(version=1)
    apps: list[Application] = []
    now = onset
    out = []
    while True:
        result = plan(Situation(protocol, onset, patient, now, tuple(apps)))
        reminder = next(r for r in result.reminders if r.kind.endswith("_start") and r.due >= now)
        if reminder.due >= until:
            return out
        now, kind = reminder.due, reminder.kind.removesuffix("_start")
        assert plan(Situation(protocol, onset, patient, now, tuple(apps))).allowed[kind].ok
        key = f"app-{len(apps) + 1}"
        apps.append(Application(key, kind, now))
        result = plan(Situation(protocol, onset, patient, now, tuple(apps)))
        [remove] = [r for r in result.reminders if r.slot == f"{kind}_remove:{key}"]
        assert remove.safety and remove.due == now + timedelta(minutes=20)
        apps[-1] = Application(key, kind, now, remove.due)
        start, stop = now.astimezone(patient.zone), remove.due.astimezone(patient.zone)
        out.append((start.strftime("%m-%d"), kind, start.strftime("%H:%M"), stop.strftime("%H:%M")))
        now = remove.due


def test_golden_london_november_first_72_hours_and_first_heat_day():
    # 2026-11-02 is a Monday; London changes clocks on 2026-10-25 and 2027-03-28, far from here.
    onset = datetime(2026, 11, 2, 9, 0, tzinfo=LONDON).astimezone(UTC)
    patient = Patient(LONDON, sleep_start=time(23, 0), sleep_end=time(7, 0))
    got = follow_every_reminder(onset, patient, until=datetime(2026, 11, 7, 0, 0, tzinfo=UTC))

    expected = [
        # Day 1: from the onset at 09:00; 21:50 ends 22:10, 21:50 + 110 min = 23:40 is asleep.
        ("11-02", "ice", "09:00", "09:20"),
        ("11-02", "ice", "10:50", "11:10"),
        ("11-02", "ice", "12:40", "13:00"),
        ("11-02", "ice", "14:30", "14:50"),
        ("11-02", "ice", "16:20", "16:40"),
        ("11-02", "ice", "18:10", "18:30"),
        ("11-02", "ice", "20:00", "20:20"),
        ("11-02", "ice", "21:50", "22:10"),
        # Days 2 and 3: the waking-day grid from 07:00.
        ("11-03", "ice", "07:00", "07:20"),
        ("11-03", "ice", "08:50", "09:10"),
        ("11-03", "ice", "10:40", "11:00"),
        ("11-03", "ice", "12:30", "12:50"),
        ("11-03", "ice", "14:20", "14:40"),
        ("11-03", "ice", "16:10", "16:30"),
        ("11-03", "ice", "18:00", "18:20"),
        ("11-03", "ice", "19:50", "20:10"),
        ("11-03", "ice", "21:40", "22:00"),
        ("11-04", "ice", "07:00", "07:20"),
        ("11-04", "ice", "08:50", "09:10"),
        ("11-04", "ice", "10:40", "11:00"),
        ("11-04", "ice", "12:30", "12:50"),
        ("11-04", "ice", "14:20", "14:40"),
        ("11-04", "ice", "16:10", "16:30"),
        ("11-04", "ice", "18:00", "18:20"),
        ("11-04", "ice", "19:50", "20:10"),
        ("11-04", "ice", "21:40", "22:00"),
        # Day 4: the acute phase ends at 09:00. 08:50 is before it, so still ice (it runs to 09:10,
        # ten minutes into the heat phase); 10:40 is the first heat.
        ("11-05", "ice", "07:00", "07:20"),
        ("11-05", "ice", "08:50", "09:10"),
        ("11-05", "heat", "10:40", "11:00"),
        ("11-05", "heat", "12:30", "12:50"),
        ("11-05", "heat", "14:20", "14:40"),
        ("11-05", "heat", "16:10", "16:30"),
        ("11-05", "heat", "18:00", "18:20"),
        ("11-05", "heat", "19:50", "20:10"),
        ("11-05", "heat", "21:40", "22:00"),
        # Day 5: the first whole heat day.
        ("11-06", "heat", "07:00", "07:20"),
        ("11-06", "heat", "08:50", "09:10"),
        ("11-06", "heat", "10:40", "11:00"),
        ("11-06", "heat", "12:30", "12:50"),
        ("11-06", "heat", "14:20", "14:40"),
        ("11-06", "heat", "16:10", "16:30"),
        ("11-06", "heat", "18:00", "18:20"),
        ("11-06", "heat", "19:50", "20:10"),
        ("11-06", "heat", "21:40", "22:00"),
    ]
    # The literal list agrees with the rule-built one (guards typos in either).
    assert expected == (
        _day("11-02", "ice", ["09:00", "10:50", "12:40", "14:30", "16:20", "18:10", "20:00", "21:50"])
        + _day("11-03", "ice", DAY_TIMES)
        + _day("11-04", "ice", DAY_TIMES)
        + _day("11-05", "ice", DAY_TIMES[:2])
        + _day("11-05", "heat", DAY_TIMES[2:])
        + _day("11-06", "heat", DAY_TIMES)
    )
    assert got == expected
    assert sum(1 for row in got if row[1] == "ice") == 28


def test_golden_london_across_the_spring_dst_change():
    # Clocks go forward on 2026-03-29 at 01:00 GMT (-> 02:00 BST), in the middle of the first night.
    onset = datetime(2026, 3, 28, 20, 0, tzinfo=LONDON).astimezone(UTC)
    assert onset == datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    patient = Patient(LONDON, sleep_start=time(23, 0), sleep_end=time(7, 0))
    got = follow_every_reminder(onset, patient, until=datetime(2026, 4, 2, 0, 0, tzinfo=UTC))

    expected = (
        # 20:00, 21:50 (ends 22:10); 23:40 is asleep: the next start is 07:00 BST, only 8h50 later
        # in real time (the night lost an hour).
        _day("03-28", "ice", ["20:00", "21:50"])
        + _day("03-29", "ice", DAY_TIMES)
        + _day("03-30", "ice", DAY_TIMES)
        # The acute phase ends 72 real hours after 20:00 GMT: 2026-03-31 20:00 UTC = 21:00 BST.
        # 19:50 BST (18:50 UTC) is still ice; 21:40 BST (20:40 UTC) is the first heat.
        + _day("03-31", "ice", DAY_TIMES[:8])
        + _day("03-31", "heat", DAY_TIMES[8:])
        + _day("04-01", "heat", DAY_TIMES)
    )
    assert expected[2] == ("03-29", "ice", "07:00", "07:20")
    assert expected[-10] == ("03-31", "heat", "21:40", "22:00")
    assert got == expected
    first_morning = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 07:00 BST
    assert datetime(2026, 3, 29, 7, 0, tzinfo=LONDON).astimezone(UTC) == first_morning


def test_golden_london_across_the_autumn_dst_change():
    # Clocks go back on 2026-10-25 at 01:00 UTC (02:00 BST -> 01:00 GMT): the night gains an hour,
    # the waking-day grid in local time is unchanged.
    onset = datetime(2026, 10, 24, 9, 0, tzinfo=LONDON).astimezone(UTC)
    assert onset == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    patient = Patient(LONDON, sleep_start=time(23, 0), sleep_end=time(7, 0))
    got = follow_every_reminder(onset, patient, until=datetime(2026, 10, 26, 0, 0, tzinfo=UTC))
    expected = _day("10-24", "ice", ["09:00", "10:50", "12:40", "14:30", "16:20", "18:10", "20:00", "21:50"]) + _day(
        "10-25", "ice", DAY_TIMES
    )
    assert got == expected
