"""Read and check the library's source files (Markdown with YAML front matter). No Django.

Layout under content/library/:
  articles/<slug>.md, exercises/<slug>.md, explainers/<slug>.md   one library item each
  red-flags/checklist.yaml                                         the checklist: order, level texts
  red-flags/<code>.md                                              one rule: question, level; body = guidance

A file that breaks a rule fails the whole load with the file and the reason, so a bad edit never
half-loads.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import frontmatter
import yaml

LIBRARY_ROOT = Path(__file__).resolve().parent / "library"
RED_FLAGS_DIR = "red-flags"
KIND_DIRS = {"explainers": "explainer", "articles": "article", "exercises": "exercise"}
PHASES = ("acute", "heat", "recovery")
LEVELS = ("emergency", "urgent", "soon")
LANGUAGES = ("en",)
# Path segments of the API next to /api/library/<slug>/: no item may take them.
RESERVED_SLUGS = frozenset({"for-me", "red-flags"})

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CODE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")

_COMMON_KEYS = {"title", "summary", "phase_from", "phase_until", "order", "tags", "reviewed", "references", "language"}
_EXERCISE_KEYS = {"steps", "hold_seconds", "repetitions", "stop_if", "avoid"}
_RULE_KEYS = {"question", "level", "alert_physiotherapist"}
_CHECKLIST_KEYS = {"about", "reviewed", "references", "order", "levels"}


class SourceError(ValueError):
    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class ItemSource:
    path: str  # relative to the library root, with forward slashes
    checksum: str
    kind: str
    slug: str
    language: str
    title: str
    summary: str
    body: str
    tags: tuple[str, ...]
    phase_from: str
    phase_until: str
    position: int
    references: tuple[str, ...]
    reviewed: date
    steps: tuple[str, ...] = ()
    hold_seconds: int | None = None
    repetitions: int | None = None
    stop_if: str = ""
    avoid: str = ""


@dataclass(frozen=True)
class RuleSource:
    code: str
    question: str
    level: str
    guidance: str
    alert_physiotherapist: bool


@dataclass(frozen=True)
class ChecklistSource:
    checksum: str
    rules: tuple[RuleSource, ...]
    levels: dict  # level -> {"headline": str, "actions": [str, ...]}
    references: tuple[str, ...]
    reviewed: date


def _text(meta: dict, key: str, path: Path, *, limit: int | None = None, required: bool = True) -> str:
    value = meta.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SourceError(path, f"'{key}' must be a non-empty text")
    value = " ".join(value.split())
    if limit and len(value) > limit:
        raise SourceError(path, f"'{key}' is longer than {limit} characters")
    return value


def _texts(meta: dict, key: str, path: Path, *, required: bool = True) -> tuple[str, ...]:
    value = meta.get(key, [] if not required else None)
    if not isinstance(value, list) or (required and not value):
        raise SourceError(path, f"'{key}' must be a non-empty list")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise SourceError(path, f"every entry of '{key}' must be a non-empty text")
    return tuple(" ".join(v.split()) for v in value)


def _whole(meta: dict, key: str, path: Path, *, low: int, high: int) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SourceError(path, f"'{key}' must be a whole number from {low} to {high}")
    return value


def _reviewed(meta: dict, path: Path) -> date:
    value = meta.get("reviewed")
    if not isinstance(value, date):
        raise SourceError(path, "'reviewed' must be a date (YYYY-MM-DD)")
    return value


def _read(path: Path) -> tuple[bytes, dict, str]:
    raw = path.read_bytes()
    try:
        post = frontmatter.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(path, f"cannot be read: {exc}") from exc
    if not isinstance(post.metadata, dict) or not post.metadata:
        raise SourceError(path, "has no YAML front matter")
    return raw, dict(post.metadata), post.content.strip()


def _paragraphs(body: str) -> str:
    """Plain text kept as paragraphs: lines joined, blank lines kept as paragraph breaks."""
    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip())


def item_parse(path: Path, *, root: Path = LIBRARY_ROOT) -> ItemSource:
    kind = KIND_DIRS.get(path.parent.name)
    if kind is None:
        raise SourceError(path, f"is not in one of {sorted(KIND_DIRS)}")
    slug = path.stem
    if not _SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise SourceError(path, "the file name must be a slug (lower-case words joined by '-') and not reserved")
    raw, meta, body = _read(path)
    allowed = _COMMON_KEYS | (_EXERCISE_KEYS if kind == "exercise" else set())
    unknown = sorted(set(meta) - allowed)
    if unknown:
        raise SourceError(path, f"unknown front-matter keys {unknown}")
    if not body:
        raise SourceError(path, "has no body")
    phase_from = meta.get("phase_from")
    phase_until = meta.get("phase_until", "recovery")
    if phase_from not in PHASES or phase_until not in PHASES:
        raise SourceError(path, f"'phase_from' and 'phase_until' must be one of {list(PHASES)}")
    if PHASES.index(phase_from) > PHASES.index(phase_until):
        raise SourceError(path, "'phase_from' comes after 'phase_until'")
    language = meta.get("language", "en")
    if language not in LANGUAGES:
        raise SourceError(path, f"'language' must be one of {list(LANGUAGES)}")
    tags = _texts(meta, "tags", path)
    bad_tags = [t for t in tags if not _SLUG.match(t) or len(t) > 50]
    if bad_tags:
        raise SourceError(path, f"tags must be slugs: {bad_tags}")
    fields = {
        "path": path.relative_to(root).as_posix(),
        "checksum": hashlib.sha256(raw).hexdigest(),
        "kind": kind,
        "slug": slug,
        "language": language,
        "title": _text(meta, "title", path, limit=200),
        "summary": _text(meta, "summary", path, limit=400),
        "body": body,
        "tags": tuple(sorted(set(tags))),
        "phase_from": phase_from,
        "phase_until": phase_until,
        "position": _whole(meta, "order", path, low=0, high=10_000),
        "references": _texts(meta, "references", path),
        "reviewed": _reviewed(meta, path),
    }
    if kind == "exercise":
        fields |= {
            "steps": _texts(meta, "steps", path),
            "hold_seconds": _whole(meta, "hold_seconds", path, low=0, high=3600),
            "repetitions": _whole(meta, "repetitions", path, low=1, high=100),
            "stop_if": _text(meta, "stop_if", path),
            "avoid": _text(meta, "avoid", path),
        }
    return ItemSource(**fields)


def items_read(*, root: Path = LIBRARY_ROOT) -> list[ItemSource]:
    items = [item_parse(path, root=root) for folder in KIND_DIRS for path in sorted((root / folder).glob("*.md"))]
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        key = (item.slug, item.language)
        if key in seen:
            raise SourceError(item.path, f"slug '{item.slug}' is also used by {seen[key]}")
        seen[key] = item.path
    return items


def _levels(meta: dict, path: Path) -> dict:
    levels = meta.get("levels")
    if not isinstance(levels, dict) or set(levels) != set(LEVELS):
        raise SourceError(path, f"'levels' must give the texts of exactly {list(LEVELS)}")
    out = {}
    for level in LEVELS:
        texts = levels[level]
        if not isinstance(texts, dict) or set(texts) != {"headline", "actions"}:
            raise SourceError(path, f"level '{level}' needs a 'headline' and 'actions'")
        out[level] = {
            "headline": _text(texts, "headline", path, limit=200),
            "actions": list(_texts(texts, "actions", path)),
        }
    return out


def checklist_checksum(*, root: Path = LIBRARY_ROOT) -> str:
    """sha256 over every file of the checklist: cheap, so an unchanged checklist is never parsed."""
    folder = root / RED_FLAGS_DIR
    digest = hashlib.sha256()
    for path in [folder / "checklist.yaml", *sorted(folder.glob("*.md"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def checklist_read(*, root: Path = LIBRARY_ROOT) -> ChecklistSource:
    folder = root / RED_FLAGS_DIR
    index = folder / "checklist.yaml"
    files = sorted(folder.glob("*.md"))
    checksum = checklist_checksum(root=root)
    try:
        meta = yaml.safe_load(index.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise SourceError(index, f"cannot be read: {exc}") from exc
    if not isinstance(meta, dict):
        raise SourceError(index, "must be a YAML mapping")
    unknown = sorted(set(meta) - _CHECKLIST_KEYS)
    if unknown:
        raise SourceError(index, f"unknown keys {unknown}")
    order = _texts(meta, "order", index)
    if len(set(order)) != len(order):
        raise SourceError(index, "'order' lists a rule twice")
    by_code = {}
    for path in files:
        _, rule_meta, body = _read(path)
        code = path.stem
        if not _CODE.match(code):
            raise SourceError(path, "the file name must be a code (lower-case words joined by '_')")
        unknown = sorted(set(rule_meta) - _RULE_KEYS)
        if unknown:
            raise SourceError(path, f"unknown front-matter keys {unknown}")
        if rule_meta.get("level") not in LEVELS:
            raise SourceError(path, f"'level' must be one of {list(LEVELS)}")
        alert = rule_meta.get("alert_physiotherapist", True)
        if not isinstance(alert, bool):
            raise SourceError(path, "'alert_physiotherapist' must be true or false")
        if not body:
            raise SourceError(path, "has no guidance (the body)")
        by_code[code] = RuleSource(
            code=code,
            question=_text(rule_meta, "question", path, limit=300),
            level=rule_meta["level"],
            guidance=_paragraphs(body),
            alert_physiotherapist=alert,
        )
    if set(order) != set(by_code):
        raise SourceError(
            index,
            f"'order' must list every rule file exactly: missing {sorted(set(by_code) - set(order))}, "
            f"without a file {sorted(set(order) - set(by_code))}",
        )
    return ChecklistSource(
        checksum=checksum,
        rules=tuple(by_code[code] for code in order),
        levels=_levels(meta, index),
        references=_texts(meta, "references", index),
        reviewed=_reviewed(meta, index),
    )
