"""Reads of the content app: the checklist, the library, and the guidance that fits a phase of an episode."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import ItemKind, LibraryItem, Phase, RedFlagRuleSet

# The "later" phase starts with the second week: by then most spasms have eased and strengthening,
# posture and a return to normal activity are what helps (the review at day 7 comes from the protocol).
RECOVERY_FROM_DAY = 8
KIND_ORDER = {ItemKind.EXPLAINER: 0, ItemKind.ARTICLE: 1, ItemKind.EXERCISE: 2}
# PostgreSQL text-search configuration per content language.
SEARCH_CONFIGS = {"en": "english"}


def redflag_ruleset_current() -> RedFlagRuleSet | None:
    return RedFlagRuleSet.objects.prefetch_related("rules").order_by("-version").first()


# A stored checklist version never changes, so its level texts can be kept for the process's life.
_level_texts: dict[int, dict] = {}


def redflag_texts_forget() -> None:
    _level_texts.clear()


def redflag_escalation_texts(*, ruleset_id: int | None, level: str) -> dict:
    """The headline and actions of an escalation, as worded in the checklist version that was answered.

    Empty when that version has no texts (the caller keeps its own wording then).
    """
    if ruleset_id is None:
        return {}
    if ruleset_id not in _level_texts:
        levels = RedFlagRuleSet.objects.filter(pk=ruleset_id).values_list("levels", flat=True).first()
        if levels is None:
            return {}
        _level_texts[ruleset_id] = levels
    texts = _level_texts[ruleset_id].get(level)
    return {"headline": texts["headline"], "actions": list(texts["actions"])} if texts else {}


def _ordered(items) -> list[LibraryItem]:
    return sorted(items, key=lambda i: (KIND_ORDER.get(i.kind, 9), i.position, i.slug))


def _published(*, language: str) -> QuerySet[LibraryItem]:
    return LibraryItem.objects.filter(published=True, language=language).prefetch_related("tags")


def _search(qs: QuerySet[LibraryItem], *, query: str, language: str) -> list[LibraryItem]:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        config = SEARCH_CONFIGS.get(language, "simple")
        vector = (
            SearchVector("title", weight="A", config=config)
            + SearchVector("summary", weight="B", config=config)
            + SearchVector("search_text", weight="C", config=config)
        )
        search = SearchQuery(query, search_type="websearch", config=config)
        ranked = qs.annotate(document=vector, rank=SearchRank(vector, search)).filter(document=search)
        return sorted(ranked, key=lambda i: (-i.rank, KIND_ORDER.get(i.kind, 9), i.position, i.slug))
    # SQLite (make run): every word somewhere in the title, summary or text.
    for word in query.split():
        qs = qs.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Q(search_text__icontains=word))
    return _ordered(qs)


def library_items(
    *,
    language: str,
    kind: str | None = None,
    tag: str | None = None,
    phase: Phase | None = None,
    query: str | None = None,
) -> list[LibraryItem]:
    """Published items, filtered; with a query, best matches first."""
    qs = _published(language=language)
    if kind:
        qs = qs.filter(kind=kind)
    if tag:
        qs = qs.filter(tags__slug=tag)
    if phase is not None:
        qs = qs.filter(phase_from__lte=phase, phase_until__gte=phase)
    if query and query.strip():
        return _search(qs, query=query.strip(), language=language)
    return _ordered(qs)


def library_item_get(*, slug: str, language: str) -> LibraryItem:
    item = _published(language=language).filter(slug=slug).first()
    if item is None:
        raise Http404("No such library item.")
    return item


def phase_for_plan(*, engine_phase: str, day: int) -> Phase:
    """The library's phase for the protocol engine's phase and the episode's day (1 = day of onset)."""
    if engine_phase == "acute":
        return Phase.ACUTE
    if engine_phase == "heat" and day < RECOVERY_FROM_DAY:
        return Phase.HEAT
    return Phase.RECOVERY


@dataclass(frozen=True)
class Guidance:
    phase: Phase
    items: list[LibraryItem]
    not_yet: list[LibraryItem]  # exercises that are allowed only from a later phase


def library_guidance(*, language: str, day: int | None = None, engine_phase: str | None = None) -> Guidance:
    """What applies at this point of an episode: its day (1 = day of onset) and the protocol engine's phase.

    Without them (None) the patient is between spasms: the later phase's advice (strength, posture,
    lifting) is what helps. recovery finds the episode and its plan; the library only knows phases.
    """
    phase = Phase.RECOVERY
    if engine_phase is not None and day is not None:
        phase = phase_for_plan(engine_phase=engine_phase, day=day)
    published = list(_published(language=language))
    items = [i for i in published if i.phase_from <= phase <= i.phase_until]
    not_yet = [i for i in published if i.kind == ItemKind.EXERCISE and i.phase_from > phase]
    return Guidance(phase, _ordered(items), _ordered(not_yet))
