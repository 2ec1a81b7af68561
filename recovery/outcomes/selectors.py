"""Reads: the questionnaires offered, what is open to answer now, the patient's responses, scores and trends."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import NotFound
from recovery.episodes.models import Episode
from recovery.episodes.selectors import episode_get
from recovery.outcomes import engine
from recovery.outcomes.catalogue import Offered, questionnaire_offered, questionnaires_offered
from recovery.outcomes.models import QuestionnaireResponse
from recovery.outcomes.planning import outcome_situation
from recovery.treatment.selectors import episode_situation


def questionnaire_list() -> list[Offered]:
    return questionnaires_offered()


def questionnaire_get(*, code: str) -> Offered:
    offered = questionnaire_offered(code)
    if offered is None:
        raise NotFound("No such questionnaire.")
    return offered


def questionnaires_open_for(*, patient: User, now: datetime | None = None) -> list[engine.Due]:
    """The questionnaires the patient's open episode asks for now and that are not answered yet."""
    episode = Episode.objects.filter(patient=patient, status=Episode.Status.OPEN).first()
    if episode is None:
        return []
    situation = episode_situation(episode=episode, now=now or timezone.now())
    return engine.questionnaires_open(outcome_situation(episode_id=episode.pk, protocol_situation=situation))


def response_list(*, patient: User, episode_id: uuid.UUID | None = None) -> QuerySet[QuestionnaireResponse]:
    responses = QuestionnaireResponse.objects.filter(patient=patient).select_related("questionnaire")
    if episode_id is not None:
        episode_get(patient=patient, episode_id=episode_id)  # 404 unless the patient's
        responses = responses.filter(episode_id=episode_id)
    return responses


def response_get(*, patient: User, client_uuid: uuid.UUID) -> QuestionnaireResponse:
    response = response_list(patient=patient).filter(client_uuid=client_uuid).first()
    if response is None:
        raise NotFound("No such questionnaire response.")
    return response


def outcome_scores(*, patient: User, episode_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Per questionnaire answered: its scores oldest first, the latest, and the trend (latest against the one
    before). For the physiotherapist's patient page (read through the care visibility rule by the caller)."""
    rows = QuestionnaireResponse.objects.filter(patient=patient).select_related("questionnaire")
    if episode_id is not None:
        rows = rows.filter(episode_id=episode_id)
    by_code: dict[str, list[QuestionnaireResponse]] = {}
    for row in rows.order_by("occurred_at", "id"):
        by_code.setdefault(row.questionnaire.code, []).append(row)
    out = []
    for code, responses in sorted(by_code.items()):
        latest = responses[-1]
        out.append(
            {
                "questionnaire": code,
                "title": latest.questionnaire.definition.get("title", code),
                "latest": latest,
                "trend": engine.trend([r.score for r in responses]),
                "scores": responses,
            }
        )
    return out
