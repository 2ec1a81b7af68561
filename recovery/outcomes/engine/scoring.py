"""Scoring exactly as published. Exact arithmetic (fractions); the stored score is rounded half up to 2 places.

- mean (PEG; Krebs et al., J Gen Intern Med 2009;24:733-738): the mean of its three 0-10 items, all required.
- startback (Keele STarT Back Screening Tool, Hill et al. 2008; Keele's scoring guide): the total of the 9 items
  (0-9), the distress (psychosocial) subscale of items 5-9 (0-5); high risk when the subscale is 4 or more,
  otherwise low for a total of 0-3 and medium above. Every item is required.
- odi (Oswestry Disability Index, Fairbank & Pynsent, Spine 2000;25:2940-2952): the sum over the answered
  sections divided by 5 x the number answered, x 100; a skipped section lowers the denominator by 5.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from .definition import Questionnaire

PLACES = Decimal("0.01")


class AnswerError(ValueError):
    """A response the engine refuses: `detail` maps the field to its reasons, as the API shows it."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class Result:
    score: Decimal  # rounded half up to 2 places; `exact` is the fraction it comes from
    exact: Fraction
    band: str
    rule: str  # e.g. "odi@1": the rule and its version
    answered: int
    skipped: tuple[str, ...]
    subscores: dict[str, int] = field(default_factory=dict)
    item_scores: dict[str, int] = field(default_factory=dict)


def _decimal(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(PLACES, rounding=ROUND_HALF_UP)


def item_scores(q: Questionnaire, answers: dict[str, Any]) -> dict[str, int]:
    """Each answered item's score; refuses an unknown item or an answer outside the item's range or options."""
    errors: dict[str, list[str]] = {}
    scores: dict[str, int] = {}
    for item_id, value in answers.items():
        item = q.item(str(item_id))
        if item is None:
            errors[str(item_id)] = ["Not an item of this questionnaire."]
            continue
        if value is None:  # skipped
            continue
        if item.kind == "scale":
            if isinstance(value, bool) or not isinstance(value, int) or not item.low <= value <= item.high:
                errors[item.id] = [f"Must be a whole number from {item.low} to {item.high}."]
                continue
            scores[item.id] = value
        else:
            option = item.option(value) if isinstance(value, str) else None
            if option is None:
                errors[item.id] = [f"Must be one of {', '.join(o.code for o in item.options)}."]
                continue
            scores[item.id] = option.score
    if errors:
        raise AnswerError({"answers": errors})
    return scores


def score(q: Questionnaire, answers: dict[str, Any]) -> Result:
    """Score a response (item id -> value; a skipped item is absent or null). Too few answers: AnswerError."""
    scores = item_scores(q, answers)
    skipped = tuple(i.id for i in q.items if i.id not in scores)
    if len(scores) < q.min_answered:
        need = "every item" if q.min_answered == len(q.items) else f"at least {q.min_answered} of {len(q.items)} items"
        raise AnswerError(
            {"answers": [f"Too few answers to score the {q.title}: {need} must be answered; {len(scores)} were."]}
        )
    if q.rule == "mean":
        exact = Fraction(sum(scores.values()), len(scores))
        return Result(_decimal(exact), exact, _band(q, exact), q.scoring_rule, len(scores), skipped, {}, scores)
    if q.rule == "startback":
        total = sum(scores.values())
        distress = sum(scores[i] for i in q.subscale)
        risk = "high" if distress >= 4 else ("low" if total <= 3 else "medium")
        subscores = {"total": total, "distress": distress}
        return Result(
            Decimal(total).quantize(PLACES),
            Fraction(total),
            risk,
            q.scoring_rule,
            len(scores),
            skipped,
            subscores,
            scores,
        )
    # odi: answered sections only; the denominator is 5 per answered section (its top score).
    top = max(o.score for o in q.items[0].options)
    exact = Fraction(sum(scores.values()) * 100, top * len(scores))
    subscores = {"raw": sum(scores.values()), "possible": top * len(scores)}
    return Result(_decimal(exact), exact, _band(q, exact), q.scoring_rule, len(scores), skipped, subscores, scores)


def _band(q: Questionnaire, exact: Fraction) -> str:
    """The first band whose upper bound (inclusive) holds the exact score; "" when the instrument has none."""
    for band in q.bands:
        if exact <= Fraction(band.up_to):
            return band.code
    return ""
