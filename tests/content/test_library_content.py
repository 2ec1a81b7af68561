"""The library covers every topic of the issue, and every entry is complete."""

import pytest

from content.models import ItemKind, LibraryItem, Phase, RedFlagLevel
from content.selectors import redflag_ruleset_current
from content.sources import checklist_read, items_read

pytestmark = pytest.mark.django_db

ARTICLES = {
    "what-is-a-back-spasm",
    "first-days-what-to-avoid",
    "ice-then-heat",
    "applying-ice-safely",
    "moist-heat-after-72-hours",
    "rest-but-not-too-much",
    "staying-hydrated",
    "pain-relief-and-its-limits",
    "posture-and-desk-setup",
    "lifting-technique",
    "returning-to-walking",
    "returning-to-running",
    "returning-to-swimming",
    "returning-to-driving",
    "when-to-see-a-provider",
    "what-a-physiotherapist-does",
}
ACUTE_EXERCISES = {"lying-with-knees-supported", "relaxing-breathing"}
LATER_EXERCISES = {"cat-stretch", "knee-rolls", "pelvic-tilts", "bird-dog", "bridges", "hip-flexor-stretch"}
RED_FLAGS = {
    "bowel_bladder_loss",
    "saddle_numbness",
    "progressive_leg_weakness",
    "fever",
    "leg_numbness",
    "major_trauma",
    "unexplained_weight_loss",
    "pain_worse_or_spreading",
}


def _slugs(kind: str) -> set[str]:
    return set(LibraryItem.objects.filter(kind=kind, published=True).values_list("slug", flat=True))


def test_every_topic_is_covered(library):
    assert _slugs(ItemKind.ARTICLE) == ARTICLES
    assert _slugs(ItemKind.EXERCISE) == ACUTE_EXERCISES | LATER_EXERCISES
    assert _slugs(ItemKind.EXPLAINER) == {"protocol"}
    assert {r.code for r in redflag_ruleset_current().rules.all()} == RED_FLAGS


def test_acute_exercises_are_allowed_from_the_start_and_the_rest_only_later(library):
    for item in LibraryItem.objects.filter(kind=ItemKind.EXERCISE):
        expected = Phase.ACUTE if item.slug in ACUTE_EXERCISES else Phase.HEAT
        if item.slug in {"bird-dog", "bridges"}:
            expected = Phase.RECOVERY  # strengthening
        assert item.phase_from == expected, item.slug


def test_every_exercise_has_steps_a_phase_holds_repetitions_and_a_stop_rule(library):
    exercises = LibraryItem.objects.filter(kind=ItemKind.EXERCISE)
    assert exercises.count() == 8
    for item in exercises:
        assert item.steps and all(isinstance(step, str) and step.strip() for step in item.steps), item.slug
        assert item.phase_from in Phase.values, item.slug
        assert item.stop_if.strip(), item.slug
        assert item.avoid.strip(), item.slug
        assert item.hold_seconds is not None and item.repetitions >= 1, item.slug


def test_every_red_flag_rule_has_guidance_a_level_and_the_level_texts_exist(library):
    ruleset = redflag_ruleset_current()
    for rule in ruleset.rules.all():
        assert rule.guidance.strip() and rule.question.strip(), rule.code
        assert rule.level in RedFlagLevel.values, rule.code
    for level in RedFlagLevel.values:
        assert ruleset.levels[level]["headline"]
        assert ruleset.levels[level]["actions"]
    assert ruleset.references and ruleset.reviewed_on


def test_every_item_names_its_references_a_review_date_and_renders(library):
    for item in LibraryItem.objects.all():
        assert item.references and all(r.strip() for r in item.references), item.slug
        assert item.reviewed_on is not None, item.slug
        assert item.version >= 1
        assert item.body_html.startswith("<") and item.search_text, item.slug
        assert item.tags.exists(), item.slug


def test_the_safety_facts_of_the_protocol_are_in_the_library(library):
    def text(slug: str) -> str:
        return LibraryItem.objects.get(slug=slug).search_text

    ice = text("applying-ice-safely")
    assert "20 minutes" in ice and "towel" in ice and "asleep" in ice
    assert "72 hours" in text("moist-heat-after-72-hours") or "three days" in text("moist-heat-after-72-hours")
    assert "one to two days" in text("rest-but-not-too-much")
    relief = text("pain-relief-and-its-limits")
    assert "10 days" in relief and "do not drive" in relief.lower()
    assert "30 minutes" in text("returning-to-running")
    assert "every 30 minutes" in text("posture-and-desk-setup").lower() or "half hour" in text("posture-and-desk-setup")
    assert "38.3" in text("when-to-see-a-provider")


def test_the_source_files_parse_on_their_own():
    items = items_read()
    assert len(items) == len(ARTICLES) + len(ACUTE_EXERCISES) + len(LATER_EXERCISES) + 1
    checklist = checklist_read()
    assert {rule.code for rule in checklist.rules} == RED_FLAGS
