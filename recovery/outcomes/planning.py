"""The questionnaire reminders of an episode, added to the protocol's plan (recovery.treatment.selectors.
episode_reminders_planned), so the outbox sends, moves and cancels them like any other. Reads only.

Takes the protocol engine's Situation (zone, sleep window, check-in hour, onset, resolution) rather than reading
them again; imports no other domain's selectors, so treatment can call it.
"""

from recovery.outcomes import engine
from recovery.outcomes.catalogue import questionnaires_offered
from recovery.outcomes.models import QuestionnaireResponse
from recovery.protocol.engine import Situation as ProtocolSituation
from recovery.protocol.pause import is_paused


def outcome_situation(*, episode_id, protocol_situation: ProtocolSituation) -> engine.Situation:
    s = protocol_situation
    answered: dict[str, list] = {}
    rows = QuestionnaireResponse.objects.filter(episode_id=episode_id).values_list("questionnaire__code", "occurred_at")
    for code, at in rows:
        answered.setdefault(code, []).append(at)
    return engine.Situation(
        onset=s.onset,
        zone=s.patient.zone,
        now=s.now,
        offered=tuple(o.questionnaire for o in questionnaires_offered()),
        answered={code: tuple(times) for code, times in answered.items()},
        ask_at=s.protocol.checkin_reminder_at,
        sleep_start=s.patient.sleep_start,
        sleep_end=s.patient.sleep_end,
        resolved_at=s.resolved_at,
    )


def outcome_reminders_planned(*, episode_id, protocol_situation: ProtocolSituation) -> list[engine.Due]:
    """The questionnaire reminders due for the episode, unless the patient turned check-in reminders off, or the
    self-care plan is paused after an emergency answer (only the help check and safety reminders then)."""
    if not protocol_situation.patient.notify_checkin:
        return []
    if is_paused(protocol_situation.pause, protocol_situation.now):
        return []
    return engine.questionnaires_due(outcome_situation(episode_id=episode_id, protocol_situation=protocol_situation))
