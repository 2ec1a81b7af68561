"""Writes of the content app: loading the library and the checklist from their files, admin saves.

The loaders take an optional `apps` registry so data migrations can run them with historical models.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps as global_apps
from django.db import transaction

from . import selectors
from .models import PHASE_BY_NAME, LibraryItem, RedFlagRuleSet
from .rendering import plain_text, render_markdown
from .sources import LIBRARY_ROOT, ItemSource, checklist_checksum, checklist_read, items_read


def _models(apps, *names: str):
    registry = apps or global_apps
    return [registry.get_model("content", name) for name in names]


@transaction.atomic
def redflag_rules_load(*, root: Path = LIBRARY_ROOT, apps=None) -> tuple[RedFlagRuleSet, bool]:
    """Load the checklist; a changed source becomes a new version, an unchanged one changes nothing."""
    ruleset_model, rule_model = _models(apps, "RedFlagRuleSet", "RedFlagRule")
    # Serialise concurrent loaders (make run and migrations may race).
    current = ruleset_model.objects.select_for_update().order_by("-version").first()
    if current is not None and current.checksum == checklist_checksum(root=root):
        return current, False
    source = checklist_read(root=root)
    ruleset = ruleset_model.objects.create(
        version=(current.version + 1) if current else 1,
        checksum=source.checksum,
        levels=source.levels,
        references=list(source.references),
        reviewed_on=source.reviewed,
    )
    rule_model.objects.bulk_create(
        rule_model(
            ruleset=ruleset,
            code=rule.code,
            question=rule.question,
            level=rule.level,
            guidance=rule.guidance,
            alert_physiotherapist=rule.alert_physiotherapist,
            position=index,
        )
        for index, rule in enumerate(source.rules)
    )
    selectors.redflag_texts_forget()
    return ruleset, True


@dataclass
class LibraryLoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.retired)


def _derived(*, body_markdown: str, extra: list[str]) -> dict[str, str]:
    body_html = render_markdown(body_markdown)
    return {"body_html": body_html, "search_text": " ".join([plain_text(body_html), *extra]).strip()}


def _source_values(source: ItemSource) -> dict:
    return {
        "kind": source.kind,
        "title": source.title,
        "summary": source.summary,
        "body_markdown": source.body,
        "phase_from": PHASE_BY_NAME[source.phase_from],
        "phase_until": PHASE_BY_NAME[source.phase_until],
        "position": source.position,
        "references": list(source.references),
        "reviewed_on": source.reviewed,
        "steps": list(source.steps),
        "hold_seconds": source.hold_seconds,
        "repetitions": source.repetitions,
        "stop_if": source.stop_if,
        "avoid": source.avoid,
        "published": True,
        "source_path": source.path,
        "source_checksum": source.checksum,
        **_derived(body_markdown=source.body, extra=[*source.steps, source.stop_if, source.avoid]),
    }


@transaction.atomic
def library_load(*, root: Path = LIBRARY_ROOT, apps=None) -> LibraryLoadReport:
    """Bring the library in line with its files. Idempotent: unchanged files change nothing.

    A changed file overwrites its item and bumps the version; an item edited in the admin keeps
    its edits until its file changes. Items whose file is gone are unpublished, not deleted.
    """
    item_model, tag_model = _models(apps, "LibraryItem", "Tag")
    sources = items_read(root=root)
    existing = {(i.slug, i.language): i for i in item_model.objects.select_for_update()}
    tags = {t.slug: t for t in tag_model.objects.all()}
    report = LibraryLoadReport()
    for source in sources:
        item = existing.pop((source.slug, source.language), None)
        label = f"{source.kind}/{source.slug} ({source.language})"
        if item is not None and item.source_checksum == source.checksum:
            report.unchanged.append(label)
            continue
        values = _source_values(source)
        if item is None:
            item = item_model.objects.create(slug=source.slug, language=source.language, version=1, **values)
            report.created.append(label)
        else:
            for name, value in values.items():
                setattr(item, name, value)
            item.version += 1
            item.save()
            report.updated.append(label)
        for slug in source.tags:
            if slug not in tags:
                tags[slug] = tag_model.objects.create(slug=slug)
        item.tags.set([tags[slug] for slug in source.tags])
    for item in existing.values():
        if item.source_path and item.published:
            item.published = False
            item.source_checksum = ""  # a file that comes back is loaded again
            item.version += 1
            item.save(update_fields=["published", "source_checksum", "version", "updated_at"])
            report.retired.append(f"{item.kind}/{item.slug} ({item.language})")
    return report


def library_item_save(*, item: LibraryItem, changed: bool) -> LibraryItem:
    """An edit made in the admin: render the body again and, if anything changed, bump the version."""
    for name, value in _derived(
        body_markdown=item.body_markdown, extra=[*(item.steps or []), item.stop_if, item.avoid]
    ).items():
        setattr(item, name, value)
    item.full_clean()
    if item.pk is None:
        item.version = 1
    elif changed:
        item.version += 1
    item.save()
    return item
