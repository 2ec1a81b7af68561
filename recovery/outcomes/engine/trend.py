"""A score's direction over time: the latest response against the one before it."""

from decimal import Decimal

# A change of a whole point on the PEG's 0-10 mean (and of as many units on another score) counts; less is noise.
# Our choice, stated so it can be argued with: Krebs et al. 2009 report responsiveness, not a fixed threshold.
STEP = Decimal(1)
# The directions, as every API names them (one enum in the schema: backcare.settings ENUM_NAME_OVERRIDES).
TRENDS = ("improving", "stable", "worsening")


def trend(scores: list[Decimal], *, step: Decimal = STEP) -> str | None:
    """ "worsening", "improving" or "stable" (a higher score is worse for every instrument here); None for fewer
    than two scores."""
    if len(scores) < 2:
        return None
    delta = scores[-1] - scores[-2]
    if delta >= step:
        return "worsening"
    if delta <= -step:
        return "improving"
    return "stable"
