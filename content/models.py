from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RedFlagLevel(models.TextChoices):
    # Ordered from most to least severe; RED_FLAG_SEVERITY below keeps that order for sorting.
    EMERGENCY = "emergency", "Emergency: get help now"
    URGENT = "urgent", "Urgent: see a doctor today"
    SOON = "soon", "See a provider soon"


RED_FLAG_SEVERITY = {RedFlagLevel.EMERGENCY: 3, RedFlagLevel.URGENT: 2, RedFlagLevel.SOON: 1}


class RedFlagRuleSet(models.Model):
    """One version of the check-in's warning-sign checklist. Only the newest is active.

    A version is never edited once stored: check-ins point at the version they were asked with.
    """

    version = models.PositiveIntegerField(unique=True)
    checksum = models.CharField(max_length=64, help_text="sha256 of the source the version was loaded from")
    loaded_at = models.DateTimeField(auto_now_add=True)
    levels = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per level: the headline and the actions the check-in's escalation shows.",
    )
    references = models.JSONField(default=list, blank=True)
    reviewed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"red-flag rules v{self.version}"


class RedFlagRule(models.Model):
    ruleset = models.ForeignKey(RedFlagRuleSet, on_delete=models.CASCADE, related_name="rules")
    code = models.SlugField(max_length=64)
    question = models.CharField(max_length=300)
    level = models.CharField(max_length=16, choices=RedFlagLevel.choices)
    guidance = models.TextField(help_text="What the patient should do now, shown at once.")
    alert_physiotherapist = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["ruleset", "position"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "code"], name="redflag_rule_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} ({self.level})"


# --- the education library ------------------------------------------------------------------


class ItemKind(models.TextChoices):
    EXPLAINER = "explainer", _("Protocol explainer")
    ARTICLE = "article", _("Article")
    EXERCISE = "exercise", _("Exercise")


class Phase(models.IntegerChoices):
    """Where a patient is in their recovery; stored as a number so "from ... until" is a range."""

    ACUTE = 1, _("Acute: the first 72 hours (ice, rest positions)")
    HEAT = 2, _("After 72 hours: moist heat and gentle stretches")
    RECOVERY = 3, _("Later: strengthening, posture, return to activity")


# The names the API and the source files use.
PHASE_NAMES = {Phase.ACUTE: "acute", Phase.HEAT: "heat", Phase.RECOVERY: "recovery"}
PHASE_BY_NAME = {name: phase for phase, name in PHASE_NAMES.items()}

# English first; another language is one more entry here and files with `language:` set.
LANGUAGES = [("en", _("English"))]
DEFAULT_LANGUAGE = "en"


class Tag(models.Model):
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.slug


class LibraryItem(models.Model):
    """An article, an exercise or the protocol explainer, written by the project.

    body_html and search_text are derived from body_markdown by the services (rendered and
    sanitized once, when the item is loaded or saved), never per request.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=ItemKind.choices)
    slug = models.SlugField(_("slug"), max_length=80)
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGES, default=DEFAULT_LANGUAGE)
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(_("summary"), max_length=400)
    body_markdown = models.TextField(_("body (Markdown)"))
    body_html = models.TextField(_("body (sanitized HTML)"), editable=False, default="")
    search_text = models.TextField(editable=False, default="")
    tags = models.ManyToManyField(Tag, blank=True, related_name="items", verbose_name=_("tags"))
    phase_from = models.PositiveSmallIntegerField(
        _("shown from phase"), choices=Phase.choices, help_text=_("For an exercise: the phase it is allowed from.")
    )
    phase_until = models.PositiveSmallIntegerField(
        _("shown until phase"), choices=Phase.choices, default=Phase.RECOVERY
    )
    position = models.PositiveSmallIntegerField(_("order"), default=100, help_text=_("Smaller comes first."))
    references = models.JSONField(
        _("references"), default=list, blank=True, help_text=_("The public bodies whose guidance the facts rest on.")
    )
    reviewed_on = models.DateField(_("reviewed on"))
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    published = models.BooleanField(_("published"), default=True)
    # Exercises only.
    steps = models.JSONField(_("steps"), default=list, blank=True)
    hold_seconds = models.PositiveIntegerField(_("hold (seconds)"), null=True, blank=True)
    repetitions = models.PositiveSmallIntegerField(_("repetitions"), null=True, blank=True)
    stop_if = models.TextField(_("stop if"), blank=True)
    avoid = models.TextField(_("avoid"), blank=True)
    # Where the item came from: the loader leaves an item alone while its file is unchanged, so edits
    # made in the admin survive until the file itself changes.
    source_path = models.CharField(max_length=200, blank=True, editable=False)
    source_checksum = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("library item")
        verbose_name_plural = _("library items")
        constraints = [
            models.UniqueConstraint(fields=["slug", "language"], name="library_item_slug_language_unique"),
            models.CheckConstraint(
                condition=Q(phase_from__lte=models.F("phase_until")), name="library_item_phase_range"
            ),
            models.CheckConstraint(
                condition=~Q(kind="exercise")
                | (
                    Q(hold_seconds__isnull=False)
                    & Q(repetitions__isnull=False)
                    & Q(repetitions__gte=1)
                    & ~Q(stop_if="")
                    & ~Q(avoid="")
                ),
                name="library_exercise_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.kind}, v{self.version})"

    def clean(self) -> None:
        if self.kind == ItemKind.EXERCISE and not (
            isinstance(self.steps, list) and self.steps and all(isinstance(s, str) and s.strip() for s in self.steps)
        ):
            raise ValidationError({"steps": _("An exercise needs a list of steps, each a non-empty text.")})
        if not isinstance(self.references, list) or not all(isinstance(r, str) for r in self.references):
            raise ValidationError({"references": _("A list of texts.")})
