"""Loading the library and the checklist from their files: idempotent, versioned, all or nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from content.models import ItemKind, LibraryItem, Phase, RedFlagRule, RedFlagRuleSet, Tag
from content.services import library_item_save, library_load, redflag_rules_load
from content.sources import SourceError
from tests.content.conftest import edit

pytestmark = pytest.mark.django_db


def _snapshot() -> dict:
    return {
        "items": list(LibraryItem.objects.order_by("pk").values()),
        "tags": list(LibraryItem.tags.through.objects.order_by("pk").values()),
        "tag_rows": list(Tag.objects.order_by("pk").values()),
        "rulesets": list(RedFlagRuleSet.objects.order_by("pk").values()),
        "rules": list(RedFlagRule.objects.order_by("pk").values()),
    }


def test_loading_twice_changes_nothing(library):
    redflag_rules_load()
    before = _snapshot()
    report = library_load()
    ruleset, created = redflag_rules_load()
    assert not report.changed and not created
    assert len(report.unchanged) == LibraryItem.objects.count() == 25
    assert _snapshot() == before


def test_a_fresh_database_gets_every_item_at_version_1(library_copy):
    LibraryItem.objects.all().delete()
    report = library_load(root=library_copy)
    assert len(report.created) == 25 and not report.updated
    assert set(LibraryItem.objects.values_list("version", flat=True)) == {1}
    assert not library_load(root=library_copy).changed


def test_a_changed_file_bumps_only_its_items_version(library_copy):
    library_load(root=library_copy)
    versions = dict(LibraryItem.objects.values_list("slug", "version"))
    edit(library_copy / "articles" / "staying-hydrated.md", "There is no single right amount.", "Sip often.")
    report = library_load(root=library_copy)
    assert report.updated == ["article/staying-hydrated (en)"]
    item = LibraryItem.objects.get(slug="staying-hydrated")
    assert item.version == versions["staying-hydrated"] + 1
    assert "Sip often." in item.body_html and "Sip often." in item.search_text
    others = dict(LibraryItem.objects.exclude(slug="staying-hydrated").values_list("slug", "version"))
    assert others == {slug: v for slug, v in versions.items() if slug != "staying-hydrated"}
    assert not library_load(root=library_copy).changed  # and loading again is a no-op once more


def test_front_matter_changes_are_loaded_too(library_copy):
    library_load(root=library_copy)
    path = library_copy / "exercises" / "bridges.md"
    edit(path, "repetitions: 10", "repetitions: 12")
    edit(path, "tags: [strengthening, core]", "tags: [strengthening, glutes]")
    library_load(root=library_copy)
    item = LibraryItem.objects.get(slug="bridges")
    assert item.repetitions == 12
    assert sorted(item.tags.values_list("slug", flat=True)) == ["glutes", "strengthening"]


def test_a_removed_file_unpublishes_its_item_and_a_returning_file_republishes_it(library_copy):
    library_load(root=library_copy)
    path = library_copy / "articles" / "returning-to-swimming.md"
    text = path.read_text()
    path.unlink()
    report = library_load(root=library_copy)
    assert report.retired == ["article/returning-to-swimming (en)"]
    assert not LibraryItem.objects.get(slug="returning-to-swimming").published
    path.write_text(text)
    assert library_load(root=library_copy).updated == ["article/returning-to-swimming (en)"]
    assert LibraryItem.objects.get(slug="returning-to-swimming").published


@pytest.mark.parametrize(
    ("relative", "old", "new", "reason"),
    [
        ("exercises/cat-stretch.md", "stop_if:", "stop_when:", "unknown front-matter keys"),
        ("exercises/cat-stretch.md", "phase_from: heat", "phase_from: someday", "phase_from"),
        ("exercises/knee-rolls.md", "repetitions: 10", "repetitions: 0", "repetitions"),
        ("articles/lifting-technique.md", "reviewed: 2026-11-22", "reviewed: soon", "reviewed"),
        ("articles/lifting-technique.md", "phase_until: recovery", "phase_until: acute", "after"),
        ("articles/ice-then-heat.md", "references:\n", "refs:\n", "unknown front-matter keys"),
    ],
)
def test_a_bad_file_fails_the_whole_load_and_names_the_file(library_copy, relative, old, new, reason):
    library_load(root=library_copy)
    edit(library_copy / "articles" / "staying-hydrated.md", "Water is best.", "Water first.")
    edit(library_copy / relative, old, new)
    before = _snapshot()
    with pytest.raises(SourceError) as error:
        library_load(root=library_copy)
    assert relative.split("/")[1] in str(error.value) and reason in str(error.value)
    assert _snapshot() == before  # the good edit in another file was not half-loaded


def test_an_exercise_without_steps_is_refused(library_copy):
    path = library_copy / "exercises" / "bird-dog.md"
    text = path.read_text()
    start = text.index("steps:")
    end = text.index("hold_seconds:")
    path.write_text(text[:start] + text[end:])
    with pytest.raises(SourceError, match="steps"):
        library_load(root=library_copy)


def test_a_reserved_slug_is_refused(library_copy):
    (library_copy / "articles" / "lifting-technique.md").rename(library_copy / "articles" / "for-me.md")
    with pytest.raises(SourceError, match="reserved"):
        library_load(root=library_copy)


def test_admin_edits_survive_a_load_until_the_file_changes(library_copy):
    library_load(root=library_copy)
    item = LibraryItem.objects.get(slug="staying-hydrated")
    version = item.version
    item.body_markdown += "\n\nA clinician's note <script>alert(1)</script>."
    library_item_save(item=item, changed=True)
    item.refresh_from_db()
    assert item.version == version + 1
    assert "clinician" in item.body_html and "<script>" not in item.body_html
    assert not library_load(root=library_copy).changed
    assert "clinician" in LibraryItem.objects.get(slug="staying-hydrated").body_html
    edit(library_copy / "articles" / "staying-hydrated.md", "Water is best.", "Water first.")
    library_load(root=library_copy)
    item.refresh_from_db()
    assert item.version == version + 2 and "clinician" not in item.body_html


def test_an_unchanged_admin_save_keeps_the_version(library):
    item = LibraryItem.objects.get(slug="bridges")
    library_item_save(item=item, changed=False)
    assert LibraryItem.objects.get(slug="bridges").version == item.version


def test_an_admin_exercise_without_a_stop_rule_is_refused(library):
    from django.core.exceptions import ValidationError

    item = LibraryItem(
        kind=ItemKind.EXERCISE,
        slug="new-one",
        title="New",
        summary="New",
        body_markdown="Body",
        phase_from=Phase.HEAT,
        reviewed_on="2026-11-22",
        steps=["Do it."],
        hold_seconds=0,
        repetitions=5,
        avoid="Rushing.",
    )
    with pytest.raises(ValidationError) as error:
        library_item_save(item=item, changed=True)
    assert "library_exercise_complete" in str(error.value) or "stop_if" in str(error.value)
    assert not LibraryItem.objects.filter(slug="new-one").exists()


def test_a_changed_checklist_becomes_a_new_version(library_copy):
    current, _ = redflag_rules_load(root=library_copy)
    assert redflag_rules_load(root=library_copy) == (current, False)
    edit(library_copy / "red-flags" / "fever.md", "level: urgent", "level: emergency")
    ruleset, created = redflag_rules_load(root=library_copy)
    assert created and ruleset.version == current.version + 1
    assert ruleset.rules.get(code="fever").level == "emergency"
    assert current.rules.get(code="fever").level == "urgent"  # the old version is kept as it was
    assert [r.code for r in ruleset.rules.all()][0] == "bowel_bladder_loss"  # order from checklist.yaml


def test_a_rule_file_missing_from_the_order_is_refused(library_copy):
    (library_copy / "red-flags" / "chest_pain.md").write_text(
        "---\nquestion: Chest pain?\nlevel: emergency\n---\nCall.\n"
    )
    with pytest.raises(SourceError, match="chest_pain"):
        redflag_rules_load(root=library_copy)


def test_load_content_reports_and_is_idempotent(library):
    out = StringIO()
    call_command("load_content", stdout=out)
    text = out.getvalue()
    assert "library: 0 new, 0 updated, 25 unchanged, 0 unpublished" in text
    assert "red-flag rules" in text and "unchanged" in text
    assert "protocol" not in text  # the protocol is recovery's: load_protocol


def test_load_protocol_reports_and_is_idempotent():
    from recovery.models import ProtocolVersion

    versions = ProtocolVersion.objects.count()  # the migrations loaded it already
    out = StringIO()
    call_command("load_protocol", stdout=out)
    assert out.getvalue().strip() == f"protocol v{ProtocolVersion.objects.latest('version').version}: unchanged"
    assert ProtocolVersion.objects.count() == versions >= 1
