"""A questionnaire as data: items, answer options with their scores, the scoring rule, bands, version, licence.

The wording (item texts, option labels) is optional here: a licensed instrument's structure and scoring ship in
the repository, its wording comes from a file the deployment provides (recovery/outcomes/wording.py).
"""

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

RULES = ("mean", "startback", "odi")


class DefinitionError(ValueError):
    """A questionnaire file that cannot be scored as written."""


@dataclass(frozen=True)
class Option:
    code: str
    score: int
    text: str = ""


@dataclass(frozen=True)
class Item:
    """A scale item (integer from `low` to `high`) or a choice item (one of `options`)."""

    id: str
    kind: str  # scale, choice
    low: int = 0
    high: int = 0
    options: tuple[Option, ...] = ()
    text: str = ""
    anchors: tuple[str, str] = ("", "")
    loinc: str = ""

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)


@dataclass(frozen=True)
class Band:
    code: str
    up_to: Decimal  # inclusive upper bound of the band's score
    label: str = ""


@dataclass(frozen=True)
class Window:
    """When it is asked: from local day `from_day` to `to_day` of the episode (day 1 = the day of onset); repeated
    every `every_days` when set (PEG weekly)."""

    slot: str
    from_day: int
    to_day: int
    every_days: int = 0
    repeats: int = 0


@dataclass(frozen=True)
class Questionnaire:
    code: str
    version: int
    title: str
    rule: str
    rule_version: int
    items: tuple[Item, ...]
    min_answered: int
    subscale: tuple[str, ...] = ()
    bands: tuple[Band, ...] = ()
    schedule: tuple[Window, ...] = ()
    licensed: bool = False  # wording must come from the deployment's licensed directory
    licence_note: str = ""
    citation: str = ""
    loinc: dict[str, str] = field(default_factory=dict)

    @property
    def scoring_rule(self) -> str:
        """The rule and its version, as a stored result keeps it (e.g. "odi@1")."""
        return f"{self.rule}@{self.rule_version}"

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def worded(self) -> bool:
        return all(i.text for i in self.items) and all(o.text for i in self.items for o in i.options)


def _item(raw: dict[str, Any]) -> Item:
    kind = raw.get("kind", "choice")
    options = tuple(Option(str(o["code"]), int(o["score"]), str(o.get("text", ""))) for o in raw.get("options", ()))
    anchors = tuple(raw.get("anchors", ("", "")))
    item = Item(
        id=str(raw["id"]),
        kind=kind,
        low=int(raw.get("low", 0)),
        high=int(raw.get("high", 0)),
        options=options,
        text=str(raw.get("text", "")),
        anchors=(str(anchors[0]), str(anchors[1])),
        loinc=str(raw.get("loinc", "")),
    )
    if kind == "scale" and item.low >= item.high:
        raise DefinitionError(f"item {item.id}: a scale needs low < high")
    if kind == "choice" and (not options or len({o.code for o in options}) != len(options)):
        raise DefinitionError(f"item {item.id}: a choice needs options with distinct codes")
    if kind not in ("scale", "choice"):
        raise DefinitionError(f"item {item.id}: kind must be scale or choice")
    return item


def questionnaire_from_dict(raw: dict[str, Any]) -> Questionnaire:
    """Read and check a definition: every rule gets the items it needs, in the ranges it assumes."""
    try:
        scoring = raw["scoring"]
        q = Questionnaire(
            code=str(raw["code"]),
            version=int(raw["version"]),
            title=str(raw.get("title", raw["code"])),
            rule=str(scoring["rule"]),
            rule_version=int(scoring.get("rule_version", 1)),
            items=tuple(_item(i) for i in raw["items"]),
            min_answered=int(scoring["min_answered"]),
            subscale=tuple(str(i) for i in scoring.get("subscale", ())),
            bands=tuple(
                Band(str(b["code"]), Decimal(str(b["up_to"])), str(b.get("label", ""))) for b in raw.get("bands", ())
            ),
            schedule=tuple(
                Window(
                    str(w["slot"]),
                    int(w["from_day"]),
                    int(w["to_day"]),
                    int(w.get("every_days", 0)),
                    int(w.get("repeats", 0)),
                )
                for w in raw.get("schedule", ())
            ),
            licensed=bool(raw.get("licence", {}).get("wording_licensed", False)),
            licence_note=str(raw.get("licence", {}).get("note", "")),
            citation=str(raw.get("citation", "")),
            loinc={str(k): str(v) for k, v in raw.get("loinc", {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DefinitionError):
            raise
        raise DefinitionError(f"questionnaire definition: {exc!r}") from exc
    ids = [i.id for i in q.items]
    if len(set(ids)) != len(ids):
        raise DefinitionError("item ids must be distinct")
    if q.rule not in RULES:
        raise DefinitionError(f"unknown scoring rule {q.rule!r}")
    if not 1 <= q.min_answered <= len(q.items):
        raise DefinitionError("min_answered must be between 1 and the number of items")
    if not set(q.subscale) <= set(ids):
        raise DefinitionError("subscale names items that do not exist")
    if q.licensed and q.worded:
        raise DefinitionError(f"{q.code}: a licensed instrument's wording must not be in the repository's file")
    return q


def questionnaire_worded(q: Questionnaire, wording: dict[str, Any]) -> Questionnaire:
    """The questionnaire with the wording of a deployment's file: {"title", "items": {id: {"text", "anchors",
    "options": {code: text}}}}. Refused unless every item and option is worded (a half-worded form is never shown)."""
    words = wording.get("items", {})
    items = []
    for item in q.items:
        entry = words.get(item.id)
        if not isinstance(entry, dict) or not entry.get("text"):
            raise DefinitionError(f"{q.code}: the wording file has no text for item {item.id}")
        options = tuple(replace(o, text=str(entry.get("options", {}).get(o.code, ""))) for o in item.options)
        if any(not o.text for o in options):
            raise DefinitionError(f"{q.code}: the wording file misses an option of item {item.id}")
        anchors = tuple(entry.get("anchors", item.anchors))
        items.append(
            replace(item, text=str(entry["text"]), options=options, anchors=(str(anchors[0]), str(anchors[1])))
        )
    return replace(q, items=tuple(items), title=str(wording.get("title", q.title)))
