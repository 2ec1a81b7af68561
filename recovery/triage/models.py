"""The stored per-patient summary the triage queue ranks."""

from django.conf import settings
from django.db import models


class TriageSummary(models.Model):
    """What the triage queue needs of one patient's current episode, computed once and kept until something
    changes it: a cache with exact invalidation (recovery.triage.summaries says when one holds; the selectors read
    it and recovery.triage.services fills it).

    A write service bumps `revision` in its own transaction (recovery.triage.services.triage_summaries_touch).
    A stored summary is used only while `computed_revision` equals it, the patient's newest check-in id is
    the one it saw (check-ins, the hot path, write nothing here), the patient's zone and local day are the
    ones it was computed for, no reminder has come due since (`valid_until`), and it is younger than a few
    minutes (a bound on anything written around the services, such as an admin edit). One row per patient,
    so the queue reads it with a plain join.
    """

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="triage_summary"
    )
    revision = models.PositiveBigIntegerField(default=1, help_text="Bumped by every write that changes a signal")
    computed_revision = models.PositiveBigIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="The next due reminder: counts change then")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The earliest of valid_until, the end of the local day, computed_at + max age"
    )
    zone = models.CharField(max_length=64, blank=True)
    fmt = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Format of data (recovery/triage.py)")
    checkin_mark = models.BigIntegerField(null=True, blank=True, help_text="The patient's newest check-in id then")
    # `data` is recovery.triage.signals.SummaryData, of format `fmt` (the help texts predate the split: changing
    # them would be a migration). JSON as text, not jsonb: the queue reads 500 of them at a time, and PostgreSQL
    # prints jsonb at several times the cost of text; nothing queries inside it.
    data = models.TextField(null=True, blank=True, help_text="The episode's signals, JSON (recovery/triage.py)")
    # What the database ranks the queue by (recovery.triage.score.need_sql), the same facts as in `data`.
    episode_id = models.UUIDField(null=True, blank=True, help_text="The current episode (open, else latest)")
    episode_open = models.BooleanField(default=False, db_default=False)
    onset = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    rank_not_improving = models.PositiveSmallIntegerField(default=0, db_default=0)
    rank_active = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Weights of the reasons that hold while the episode is active"
    )
    rest_over_at = models.DateTimeField(null=True, blank=True, help_text="When bed rest passes its cap")
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"triage summary of patient {self.patient_id} r{self.revision}"


class ClinicianAlert(models.Model):
    """A red flag the care team must see now: an emergency answer alerts every active linked physiotherapist
    again and again until one acknowledges it; an urgent one alerts once. Its pushes are outbox rows
    (Reminder, kind clinician_alert, one per physiotherapist and round), cancelled when acknowledged."""

    class Severity(models.TextChoices):
        EMERGENCY = "emergency", "Emergency"
        URGENT = "urgent", "Urgent"

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinician_alerts")
    episode = models.ForeignKey("recovery.Episode", on_delete=models.CASCADE, related_name="clinician_alerts")
    redflag_event = models.OneToOneField(
        "recovery.RedFlagEvent", on_delete=models.CASCADE, related_name="clinician_alert"
    )
    severity = models.CharField(max_length=16, choices=Severity.choices)
    raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(acknowledged_at__isnull=True) | models.Q(acknowledged_at__gte=models.F("raised_at")),
                name="clinician_alert_ack_after_raise",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "-raised_at"], name="clinician_alert_patient"),
            models.Index(
                fields=["raised_at"], condition=models.Q(acknowledged_at__isnull=True), name="clinician_alert_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} alert {self.pk} for patient {self.patient_id}"
