"""Property tests of the pure questionnaire engine: scores in range, skipped items handled as each rule says, too
few answers refused; planned reminders never in the sleep window, never for an answered or closed window."""

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.outcomes.engine import AnswerError, Situation, questionnaire_from_dict, questionnaires_due, score, trend
from recovery.outcomes.engine.schedule import windows
from recovery.protocol.localtime import in_window

DATA = Path(__file__).resolve().parents[3] / "recovery" / "data" / "questionnaires"
PEG, STARTBACK, ODI = (
    questionnaire_from_dict(json.loads((DATA / f"{c}.json").read_text())) for c in ("peg", "startback", "odi")
)
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@st.composite
def responses(draw, q):
    """Answers to a random subset of the items (the rest skipped: absent or null)."""
    out = {}
    for item in q.items:
        choice = draw(st.sampled_from(["answer", "answer", "answer", "absent", "null"]))
        if choice == "absent":
            continue
        if choice == "null":
            out[item.id] = None
        elif item.kind == "scale":
            out[item.id] = draw(st.integers(item.low, item.high))
        else:
            out[item.id] = draw(st.sampled_from([o.code for o in item.options]))
    return out


def answered(answers: dict) -> int:
    return sum(1 for v in answers.values() if v is not None)


@given(responses(ODI))
def test_odi_is_the_answered_sum_over_five_per_answered_section_or_refused(answers):
    if answered(answers) < ODI.min_answered:
        with pytest.raises(AnswerError):
            score(ODI, answers)
        return
    result = score(ODI, answers)
    points = [int(v[1]) for v in answers.values() if v is not None]
    assert result.exact == Fraction(sum(points) * 100, 5 * len(points))
    assert Decimal(0) <= result.score <= Decimal(100)
    assert result.band in {"minimal", "moderate", "severe", "crippled", "bed_bound"}
    assert result.answered + len(result.skipped) == 10


@given(responses(PEG))
def test_peg_is_in_range_and_needs_every_item(answers):
    if answered(answers) < 3:
        with pytest.raises(AnswerError):
            score(PEG, answers)
        return
    result = score(PEG, answers)
    assert Decimal(0) <= result.score <= Decimal(10)
    assert abs(result.score - Decimal(result.exact.numerator) / Decimal(result.exact.denominator)) <= Decimal("0.005")


@given(responses(STARTBACK))
def test_startback_risk_follows_total_and_distress(answers):
    if answered(answers) < 9:
        with pytest.raises(AnswerError):
            score(STARTBACK, answers)
        return
    result = score(STARTBACK, answers)
    total, distress = result.subscores["total"], result.subscores["distress"]
    assert 0 <= distress <= 5 and distress <= total <= 9
    expected = "high" if distress >= 4 else ("low" if total <= 3 else "medium")
    assert result.band == expected


@given(st.lists(st.decimals(min_value=0, max_value=100, places=2), max_size=6))
def test_trend_compares_the_latest_with_the_one_before(scores):
    direction = trend(scores)
    if len(scores) < 2:
        assert direction is None
    else:
        delta = scores[-1] - scores[-2]
        assert direction == ("worsening" if delta >= 1 else "improving" if delta <= -1 else "stable")


@settings(max_examples=150, deadline=None)
@given(
    onset=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
    sleep_start=st.sampled_from([time(21, 0), time(22, 30), time(23, 0), time(0, 30)]),
    sleep_end=st.sampled_from([time(5, 0), time(7, 0), time(8, 30)]),
    ask_at=st.sampled_from([time(8, 0), time(19, 0), time(23, 30)]),
    later=st.integers(0, 100 * 24),
    answered_hours=st.lists(st.integers(0, 100 * 24), max_size=5),
)
def test_planned_reminders_are_awake_open_and_unanswered(
    onset, zone, sleep_start, sleep_end, ask_at, later, answered_hours
):
    zone = ZoneInfo(zone)
    s = Situation(
        onset=onset,
        zone=zone,
        now=onset + timedelta(hours=later),
        offered=(PEG, STARTBACK, ODI),
        answered={"peg": tuple(onset + timedelta(hours=h) for h in answered_hours)},
        ask_at=ask_at,
        sleep_start=sleep_start,
        sleep_end=sleep_end,
    )
    due = questionnaires_due(s)
    assert len({d.slot for d in due}) == len(due)
    for d in due:
        assert not in_window(d.due, zone, sleep_start, sleep_end)
        assert d.opens <= d.due < d.closes and s.now < d.closes
        assert d.due >= onset
        if d.code == "peg":
            assert not any(d.opens <= at < d.closes for at in s.answered["peg"])
    # Every PEG window open now and unanswered has its reminder (unless sleep pushed it past the window's end).
    for slot, opens, closes, when in windows(s, PEG):
        if opens <= s.now < closes and when < closes and not any(opens <= at < closes for at in s.answered["peg"]):
            assert slot in {d.slot for d in due}
