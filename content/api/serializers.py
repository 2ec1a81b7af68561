from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from content.models import DEFAULT_LANGUAGE, LANGUAGES, PHASE_BY_NAME, PHASE_NAMES, ItemKind, RedFlagLevel

PHASE_CHOICES = list(PHASE_BY_NAME)


class PhaseField(serializers.ChoiceField):
    """A phase by name (acute, heat, recovery); stored as its number."""

    def __init__(self, **kwargs):
        super().__init__(choices=PHASE_CHOICES, **kwargs)

    def to_representation(self, value):
        return PHASE_NAMES[value]

    def to_internal_value(self, data):
        return PHASE_BY_NAME[super().to_internal_value(data)]


class LanguageQuerySerializer(serializers.Serializer):
    language = serializers.ChoiceField(
        choices=LANGUAGES, required=False, default=DEFAULT_LANGUAGE, help_text=_("Language of the content.")
    )


class LibraryQuerySerializer(LanguageQuerySerializer):
    kind = serializers.ChoiceField(choices=ItemKind.choices, required=False, help_text=_("Only items of this kind."))
    tag = serializers.SlugField(max_length=50, required=False, help_text=_("Only items with this tag."))
    phase = PhaseField(required=False, help_text=_("Only items that apply in this phase of recovery."))
    q = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=_("Full-text search in titles, summaries and bodies; best matches first."),
    )


class GuidanceQuerySerializer(LanguageQuerySerializer):
    episode = serializers.UUIDField(
        required=False, help_text=_("One of your episodes; defaults to the one that is open.")
    )


class ExerciseSerializer(serializers.Serializer):
    steps = serializers.ListField(child=serializers.CharField())
    hold_seconds = serializers.IntegerField(help_text=_("How long to hold each repetition (0: no hold)."))
    repetitions = serializers.IntegerField()
    stop_if = serializers.CharField(help_text=_("When to stop."))
    avoid = serializers.CharField(help_text=_("What not to do."))


class LibraryItemSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    language = serializers.ChoiceField(choices=LANGUAGES)
    title = serializers.CharField()
    summary = serializers.CharField()
    html = serializers.CharField(source="body_html", help_text=_("The body, as sanitized HTML."))
    tags = serializers.SerializerMethodField()
    phase_from = PhaseField(help_text=_("For an exercise: the phase from which it is allowed."))
    phase_until = PhaseField()
    references = serializers.ListField(
        child=serializers.CharField(), help_text=_("The public bodies whose guidance the facts rest on.")
    )
    reviewed = serializers.DateField(source="reviewed_on")
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    exercise = serializers.SerializerMethodField()

    def get_tags(self, obj) -> list[str]:
        return sorted(tag.slug for tag in obj.tags.all())

    @extend_schema_field(ExerciseSerializer(allow_null=True))
    def get_exercise(self, obj) -> dict | None:
        if obj.kind != ItemKind.EXERCISE:
            return None
        return ExerciseSerializer(obj).data


class LibraryListSerializer(serializers.Serializer):
    language = serializers.CharField()
    count = serializers.IntegerField()
    results = LibraryItemSerializer(many=True)


class NotYetSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    title = serializers.CharField()
    phase_from = PhaseField(help_text=_("The phase from which it is allowed."))


class GuidanceSerializer(serializers.Serializer):
    episode = serializers.UUIDField(source="episode.id", allow_null=True, default=None)
    phase = PhaseField()
    day = serializers.IntegerField(allow_null=True, help_text=_("Day of the episode; 1 is the day of onset."))
    acute_ends_at = serializers.DateTimeField(allow_null=True, help_text=_("When the ice phase ends (72 h)."))
    items = LibraryItemSerializer(many=True, help_text=_("What applies now, the protocol explainer first."))
    not_yet = NotYetSerializer(many=True, help_text=_("Exercises to leave until a later phase."))


class RedFlagLevelTextSerializer(serializers.Serializer):
    headline = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())


class RedFlagRuleSerializer(serializers.Serializer):
    code = serializers.SlugField()
    question = serializers.CharField()
    level = serializers.ChoiceField(choices=RedFlagLevel.choices)
    guidance = serializers.CharField()
    alert_physiotherapist = serializers.BooleanField()


class RedFlagLevelsSerializer(serializers.Serializer):
    emergency = RedFlagLevelTextSerializer()
    urgent = RedFlagLevelTextSerializer()
    soon = RedFlagLevelTextSerializer()


class RedFlagChecklistSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    reviewed = serializers.DateField(source="reviewed_on", allow_null=True)
    references = serializers.ListField(child=serializers.CharField())
    levels = RedFlagLevelsSerializer()
    rules = RedFlagRuleSerializer(many=True, source="rules.all")
