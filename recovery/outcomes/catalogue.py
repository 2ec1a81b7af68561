"""Which questionnaires this deployment offers, with their wording.

A questionnaire whose wording ships in the repository (the PEG) is always offered. A licensed one (STarT Back,
Oswestry) only when the deployment's BACKCARE_QUESTIONNAIRE_LICENSED_DIR holds `<code>.json` wording every item
and option of it: otherwise it is never offered, planned or accepted. Reads only.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from recovery.outcomes.engine import DefinitionError, Questionnaire, questionnaire_from_dict
from recovery.outcomes.engine.definition import questionnaire_worded
from recovery.outcomes.models import QuestionnaireVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offered:
    row: QuestionnaireVersion
    questionnaire: Questionnaire  # worded


def licensed_dir() -> Path | None:
    value = getattr(settings, "BACKCARE_QUESTIONNAIRE_LICENSED_DIR", None)
    return Path(value) if value else None


# Every write re-plans its episode's reminders, which asks what is offered: parsed definitions (rows never change)
# and wording files (by modification time) are kept per process, so a re-plan costs one small query here.
_PARSED: dict[tuple[int, str], Questionnaire] = {}
_WORDING: dict[Path, tuple[int, Any]] = {}


def _parsed(row: QuestionnaireVersion) -> Questionnaire:
    key = (row.pk, row.checksum)
    if key not in _PARSED:
        _PARSED[key] = questionnaire_from_dict(row.definition)
    return _PARSED[key]


def _wording(path: Path) -> Any:
    stamp = path.stat().st_mtime_ns
    cached = _WORDING.get(path)
    if cached is None or cached[0] != stamp:
        cached = _WORDING[path] = (stamp, json.loads(path.read_text(encoding="utf-8")))
    return cached[1]


def _worded(q: Questionnaire) -> Questionnaire | None:
    if not q.licensed:
        return q
    directory = licensed_dir()
    path = directory / f"{q.code}.json" if directory else None
    if path is None or not path.is_file():
        return None
    try:
        return questionnaire_worded(q, _wording(path))
    except (OSError, ValueError, DefinitionError, AttributeError, TypeError):
        # A broken licence file must not break the app: the questionnaire is simply not offered.
        logger.exception("licensed wording for %s is unusable; not offered", q.code)
        return None


def questionnaires_offered() -> list[Offered]:
    """The newest version of each loaded questionnaire that this deployment may show, in code order."""
    newest: dict[str, QuestionnaireVersion] = {}
    for row in QuestionnaireVersion.objects.order_by("code", "-version"):
        newest.setdefault(row.code, row)
    offered = []
    for row in newest.values():
        worded = _worded(_parsed(row))
        if worded is not None:
            offered.append(Offered(row, worded))
    return offered


def questionnaire_offered(code: str) -> Offered | None:
    return next((o for o in questionnaires_offered() if o.row.code == code), None)
