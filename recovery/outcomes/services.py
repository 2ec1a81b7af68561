"""Writes: loading questionnaire definitions from their files, and a patient's scored response."""

import hashlib
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Invalid
from backcare.core.replay import Written, insert_once, payload_hash, replay_stored
from recovery.episodes.models import CLOCK_SKEW, Episode
from recovery.outcomes import engine
from recovery.outcomes.catalogue import questionnaire_offered
from recovery.outcomes.models import QuestionnaireResponse, QuestionnaireVersion
from recovery.reminders.planning import replans_episode

SOURCE_DIR = Path(__file__).resolve().parents[1] / "data" / "questionnaires"


@transaction.atomic
def questionnaire_versions_load(*, source: Path = SOURCE_DIR) -> list[tuple[QuestionnaireVersion, bool]]:
    """Load every questionnaire file. Unchanged: nothing happens. Changed without a new version: refused."""
    loaded = []
    for path in sorted(source.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        q = engine.questionnaire_from_dict(raw)  # refuses a definition the engine cannot score
        checksum = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        existing = QuestionnaireVersion.objects.select_for_update().filter(code=q.code, version=q.version).first()
        if existing is not None:
            if existing.checksum != checksum:
                raise engine.DefinitionError(
                    f"{q.code} v{q.version} is already loaded with other content; bump the version"
                )
            loaded.append((existing, False))
            continue
        row = QuestionnaireVersion.objects.create(code=q.code, version=q.version, definition=raw, checksum=checksum)
        loaded.append((row, True))
    return loaded


def _episode_for(*, patient: User, episode_id: uuid.UUID | None, occurred_at: datetime) -> Episode:
    episodes = Episode.objects.filter(patient=patient)
    if episode_id is not None:
        episode = episodes.filter(pk=episode_id).first()
        if episode is None:
            raise Invalid({"episode": ["No such episode."]})
    else:
        episode = episodes.filter(status=Episode.Status.OPEN).first()
        if episode is None:
            raise Invalid({"episode": ["You have no open episode; open one first."]})
    if occurred_at < episode.onset - CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be before the episode's onset."]})
    if episode.resolved_at and occurred_at > episode.resolved_at + CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be after the episode was resolved."]})
    return episode


@replans_episode
def questionnaire_response_put(
    *,
    patient: User,
    client_uuid: uuid.UUID,
    questionnaire: str,
    answers: dict[str, Any],
    occurred_at: datetime | None = None,
    episode: uuid.UUID | None = None,
) -> Written:
    """Score and store a response under the client's id, or answer the stored one if this is a replay.

    Refused (400, naming the field) for a questionnaire this deployment does not offer, an answer outside an item's
    range, or too few answers to score; the stored record keeps the questionnaire version and the scoring rule."""
    content_hash = payload_hash(
        {
            "questionnaire": questionnaire,
            "answers": json.dumps(answers, sort_keys=True),
            "occurred_at": occurred_at,
            "episode": episode,
        }
    )

    def stored() -> QuestionnaireResponse | None:
        rows = QuestionnaireResponse.objects.filter(patient=patient, client_uuid=client_uuid)
        return replay_stored(rows, payload_hash=content_hash, what="questionnaire response")

    existing = stored()  # a replay answers even if the questionnaire or the episode changed since
    if existing is not None:
        return Written(existing, False)
    offered = questionnaire_offered(questionnaire)
    if offered is None:
        raise Invalid({"questionnaire": ["Not a questionnaire offered here."]})
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise Invalid({"occurred_at": ["Cannot be in the future."]})
    found = _episode_for(patient=patient, episode_id=episode, occurred_at=occurred_at)
    try:
        result = engine.score(offered.questionnaire, answers)
    except engine.AnswerError as exc:
        raise Invalid(exc.detail) from exc
    response = QuestionnaireResponse(
        patient=patient,
        episode=found,
        questionnaire=offered.row,
        client_uuid=client_uuid,
        occurred_at=occurred_at,
        answers={item: value for item, value in answers.items() if value is not None},
        score=result.score,
        band=result.band,
        subscores=result.subscores,
        scoring_rule=result.rule,
        answered=result.answered,
        payload_hash=content_hash,
    )
    return insert_once(lambda: _saved(response), replay=stored)


def _saved(response: QuestionnaireResponse) -> QuestionnaireResponse:
    response.save(force_insert=True)
    return response
