"""Golden tests: every scoring rule against the published worked examples and rules. No database.

Sources (cited per test):
- PEG: Krebs EE et al., J Gen Intern Med 2009;24(6):733-738 (the score is the mean of the three 0-10 items); LOINC
  91147-9 "Mean score [PEG]" (the average of the 3 item scores).
- STarT Back: Keele University, "Using and scoring the Keele STarT Back Screening Tool" (keele.ac.uk/sbst): the
  distress subscale is items 5-9 (bothersomeness positive for "very much" or "extremely"), 4 or 5 is high risk;
  the overall score 0-9, 0-3 low risk, 4-9 medium. LOINC 91350-9 / 91352-5 say the same.
- Oswestry: Fairbank JCT & Pynsent PB, Spine 2000;25(22):2940-2952, and the scoring instructions that go with the
  questionnaire: "16 (total scored) / 50 (total possible score) x 100 = 32%"; with one section missed or not
  applicable, "16 / 45 x 100 = 35.5%" (35.555...: the published figure is cut, not rounded; we keep 35.56).
  Bands 0-20 minimal, 21-40 moderate, 41-60 severe, 61-80 crippled, 81-100 bed-bound.
"""

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from recovery.outcomes.engine import AnswerError, questionnaire_from_dict, score

DATA = Path(__file__).resolve().parents[3] / "recovery" / "data" / "questionnaires"


def load(code: str):
    return questionnaire_from_dict(json.loads((DATA / f"{code}.json").read_text()))


PEG, STARTBACK, ODI = load("peg"), load("startback"), load("odi")
SECTIONS = [item.id for item in ODI.items]


# --- PEG ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pain", "enjoyment", "activity", "expected"),
    [
        (5, 5, 5, Decimal("5.00")),  # all fives: a mean of 5
        (8, 9, 7, Decimal("8.00")),  # 24 / 3
        (7, 6, 4, Decimal("5.67")),  # 17 / 3 = 5.666..., rounded half up to 2 places
        (0, 0, 1, Decimal("0.33")),
        (10, 10, 10, Decimal("10.00")),
    ],
)
def test_peg_is_the_mean_of_its_three_items(pain, enjoyment, activity, expected):
    result = score(PEG, {"pain": pain, "enjoyment": enjoyment, "activity": activity})
    assert result.score == expected
    assert result.exact == Fraction(pain + enjoyment + activity, 3)
    assert result.rule == "mean@1" and result.band == ""


def test_peg_needs_all_three_items():
    with pytest.raises(AnswerError) as refused:
        score(PEG, {"pain": 5, "enjoyment": 5, "activity": None})
    assert "Too few answers" in refused.value.detail["answers"][0]


# --- STarT Back ----------------------------------------------------------------------------------------------------


def startback(agreed: set[int], bother: str) -> dict:
    answers = {f"q{n}": ("agree" if n in agreed else "disagree") for n in range(1, 9)}
    return answers | {"q9": bother}


@pytest.mark.parametrize(
    ("agreed", "bother", "total", "distress", "risk"),
    [
        (set(), "not_at_all", 0, 0, "low"),
        ({1, 2, 3}, "moderately", 3, 0, "low"),  # total 0-3: low
        ({1, 2, 3, 4}, "slightly", 4, 0, "medium"),  # total 4-9 with distress 0-3: medium
        ({1, 2, 5, 6}, "very_much", 5, 3, "medium"),  # distress 3: still medium
        ({5, 6, 7}, "extremely", 4, 4, "high"),  # distress 4: high
        ({1, 2, 3, 4, 5, 6, 7, 8}, "very_much", 9, 5, "high"),
        ({5, 6, 7, 8}, "moderately", 4, 4, "high"),  # "moderately" bothersome scores 0
    ],
)
def test_startback_total_distress_and_risk_as_keele_scores_them(agreed, bother, total, distress, risk):
    result = score(STARTBACK, startback(agreed, bother))
    assert result.subscores == {"total": total, "distress": distress}
    assert result.score == Decimal(total) and result.band == risk and result.rule == "startback@1"


def test_startback_bothersomeness_counts_only_very_much_and_extremely():
    scores = {
        b: score(STARTBACK, startback(set(), b)).subscores["distress"]
        for b in ("not_at_all", "slightly", "moderately", "very_much", "extremely")
    }
    assert scores == {"not_at_all": 0, "slightly": 0, "moderately": 0, "very_much": 1, "extremely": 1}


def test_startback_refuses_a_skipped_item():
    answers = startback({1}, "slightly")
    del answers["q4"]
    with pytest.raises(AnswerError):
        score(STARTBACK, answers)


# --- Oswestry ------------------------------------------------------------------------------------------------------


def odi(points: list[int | None]) -> dict:
    return {section: (None if p is None else f"s{p}") for section, p in zip(SECTIONS, points, strict=True)}


def test_odi_all_ten_sections_published_example_16_of_50_is_32_percent():
    result = score(ODI, odi([2, 2, 2, 2, 2, 2, 1, 1, 1, 1]))  # 16 points
    assert result.score == Decimal("32.00") and result.band == "moderate"
    assert result.subscores == {"raw": 16, "possible": 50}


def test_odi_one_section_skipped_published_example_16_of_45():
    # The same 16 points over nine answered sections (sex life not applicable): the denominator drops by 5.
    result = score(ODI, odi([2, 2, 2, 2, 2, 2, 2, None, 1, 1]))
    assert result.exact == Fraction(1600, 45)  # 35.555...
    assert result.score == Decimal("35.56")  # the published "35.5%" is 35.555... cut to one place
    assert result.skipped == ("sex_life",) and result.answered == 9
    assert result.subscores == {"raw": 16, "possible": 45}


def test_odi_skipped_section_is_not_scored_as_zero():
    # The mistake of several public calculators: counting a skipped section as 0 out of 5 gives 32%, not 35.56%.
    assert score(ODI, odi([2, 2, 2, 2, 2, 2, 2, None, 1, 1])).score != Decimal("32.00")


@pytest.mark.parametrize(
    ("points", "band"),
    [
        ([2, 2, 2, 2, 2, 0, 0, 0, 0, 0], "minimal"),  # 10 / 50 = 20%: the top of minimal
        ([2, 2, 2, 2, 2, 1, 0, 0, 0, 0], "moderate"),  # 22%
        ([4, 4, 4, 4, 4, 0, 0, 0, 0, 0], "moderate"),  # 40%
        ([5, 5, 5, 5, 5, 5, 0, 0, 0, 0], "severe"),  # 60%
        ([5, 5, 5, 5, 5, 5, 5, 5, 0, 0], "crippled"),  # 80%
        ([5, 5, 5, 5, 5, 5, 5, 5, 5, 5], "bed_bound"),  # 100%
    ],
)
def test_odi_bands_of_fairbank_and_pynsent(points, band):
    assert score(ODI, odi(points)).band == band


def test_odi_with_two_sections_skipped_is_scored_three_is_refused():
    assert score(ODI, odi([3, 3, 3, 3, 3, 3, 3, 3, None, None])).score == Decimal("60.00")
    with pytest.raises(AnswerError) as refused:
        score(ODI, odi([3, 3, 3, 3, 3, 3, 3, None, None, None]))
    assert refused.value.detail == {
        "answers": [
            "Too few answers to score the Oswestry Disability Index: at least 8 of 10 items must be answered; 7 were."
        ]
    }


def test_an_answer_outside_an_item_is_refused_naming_the_item():
    with pytest.raises(AnswerError) as refused:
        score(PEG, {"pain": 11, "enjoyment": 5, "activity": "5", "mood": 3})
    assert refused.value.detail == {
        "answers": {
            "pain": ["Must be a whole number from 0 to 10."],
            "activity": ["Must be a whole number from 0 to 10."],
            "mood": ["Not an item of this questionnaire."],
        }
    }
