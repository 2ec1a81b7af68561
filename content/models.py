from django.db import models


class RedFlagLevel(models.TextChoices):
    # Ordered from most to least severe; RED_FLAG_SEVERITY below keeps that order for sorting.
    EMERGENCY = "emergency", "Emergency: get help now"
    URGENT = "urgent", "Urgent: see a doctor today"
    SOON = "soon", "See a provider soon"


RED_FLAG_SEVERITY = {RedFlagLevel.EMERGENCY: 3, RedFlagLevel.URGENT: 2, RedFlagLevel.SOON: 1}


class RedFlagRuleSet(models.Model):
    """One version of the check-in's warning-sign checklist. Only the newest is active."""

    version = models.PositiveIntegerField(unique=True)
    checksum = models.CharField(max_length=64, help_text="sha256 of the source the version was loaded from")
    loaded_at = models.DateTimeField(auto_now_add=True)

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
