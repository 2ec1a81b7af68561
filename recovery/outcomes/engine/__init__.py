"""The questionnaire engine: definitions (data) in, scores and reminders out. Pure: no Django, no I/O."""

from .definition import DefinitionError, Item, Option, Questionnaire, questionnaire_from_dict
from .schedule import Due, Situation, questionnaires_due, questionnaires_open
from .scoring import AnswerError, Result, score
from .trend import trend

__all__ = [
    "AnswerError",
    "DefinitionError",
    "Due",
    "Item",
    "Option",
    "Questionnaire",
    "Result",
    "Situation",
    "questionnaire_from_dict",
    "questionnaires_due",
    "questionnaires_open",
    "score",
    "trend",
]
