from django.utils.translation import gettext
from rest_framework import serializers

from backcare.core.api import AwareDateTimeField, StrictSerializer
from recovery.outcomes.catalogue import Offered
from recovery.outcomes.engine.trend import TRENDS


def _t(text: str) -> str:
    # Wording shipped with the repository goes through the translation catalogue; a deployment's licensed
    # wording is already in its own language and passes unchanged when no translation exists.
    return gettext(text) if text else text


def questionnaire_data(offered: Offered) -> dict:
    q = offered.questionnaire
    return {
        "code": q.code,
        "version": q.version,
        "title": _t(q.title),
        "scoring_rule": q.scoring_rule,
        "citation": q.citation,
        "licence_note": q.licence_note,
        "min_answered": q.min_answered,
        "items": [
            {
                "id": item.id,
                "kind": item.kind,
                "low": item.low if item.kind == "scale" else None,
                "high": item.high if item.kind == "scale" else None,
                "text": _t(item.text),
                "anchors": [_t(a) for a in item.anchors] if item.kind == "scale" else [],
                "options": [{"code": o.code, "text": _t(o.text)} for o in item.options],
            }
            for item in q.items
        ],
    }


class OptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class ItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["scale", "choice"])
    low = serializers.IntegerField(allow_null=True)
    high = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()
    anchors = serializers.ListField(child=serializers.CharField())
    options = OptionSerializer(many=True)


class QuestionnaireOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()
    scoring_rule = serializers.CharField()
    citation = serializers.CharField()
    licence_note = serializers.CharField()
    min_answered = serializers.IntegerField()
    items = ItemSerializer(many=True)


class OpenQuestionnaireSerializer(serializers.Serializer):
    questionnaire = serializers.CharField(source="code")
    slot = serializers.CharField()
    opens = serializers.DateTimeField()
    closes = serializers.DateTimeField()


class ResponseInputSerializer(StrictSerializer):
    questionnaire = serializers.SlugField(max_length=32, help_text="The questionnaire's code, e.g. peg.")
    answers = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text="Item id -> a whole number (scale items) or an option code (choice items); null or absent skips it.",
    )
    occurred_at = AwareDateTimeField(required=False, help_text="When it was answered; defaults to now.")
    episode = serializers.UUIDField(required=False, help_text="Defaults to the open episode.")


class ResponseOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    questionnaire = serializers.CharField(source="questionnaire.code")
    questionnaire_version = serializers.IntegerField(source="questionnaire.version")
    episode = serializers.UUIDField(source="episode_id")
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    answers = serializers.DictField()
    score = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    band = serializers.CharField()
    subscores = serializers.DictField()
    scoring_rule = serializers.CharField()
    answered = serializers.IntegerField()


class ScorePointSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    score = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)
    band = serializers.CharField()


class OutcomeSerializer(serializers.Serializer):
    questionnaire = serializers.CharField()
    title = serializers.CharField()
    latest = ResponseOutputSerializer()
    trend = serializers.ChoiceField(choices=TRENDS, allow_null=True)
    scores = ScorePointSerializer(many=True)
