"""The protocol version an episode follows, its prescriptions, and what the patient does: ice and heat
applications, bed rest, medication, walks."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from recovery.episodes.models import Episode


class ProtocolVersion(models.Model):
    """One version of the protocol definition (data, not code). Episodes keep the one they began with."""

    version = models.PositiveIntegerField(unique=True)
    definition = models.JSONField()
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"protocol v{self.version}"


class Prescription(models.Model):
    """A per-episode change to the protocol, inside the hard bounds. Append-only: the newest applies."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="prescriptions")
    overrides = models.JSONField(default=dict)
    note = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="prescriptions_written"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["episode", "-created_at"], name="prescription_episode_time")]

    def __str__(self) -> str:
        return f"prescription for {self.episode_id} at {self.created_at}"


class ApplicationKind(models.TextChoices):
    ICE = "ice", "Ice"
    HEAT = "heat", "Moist heat"


class Application(models.Model):
    """One ice or heat application, timed. At most one runs per episode; none overlap."""

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="applications")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="applications")
    client_uuid = models.UUIDField()
    kind = models.CharField(max_length=8, choices=ApplicationKind.choices)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    auto_closed = models.BooleanField(default=False, help_text="Closed by the server at the maximum on-time")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_uuid"], name="application_client_uuid_unique"),
            models.UniqueConstraint(
                fields=["episode"], condition=Q(stopped_at__isnull=True), name="application_one_running_per_episode"
            ),
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=True) | Q(stopped_at__gt=F("started_at")),
                name="application_stop_after_start",
            ),
        ]
        indexes = [models.Index(fields=["episode", "started_at"], name="application_episode_time")]

    def __str__(self) -> str:
        return f"{self.kind} from {self.started_at}"


class RestPeriod(models.Model):
    """Bed rest (lying down by day). Capped by the protocol; at most one open per episode."""

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rest_periods")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="rest_periods")
    client_uuid = models.UUIDField()
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_uuid"], name="rest_client_uuid_unique"),
            models.UniqueConstraint(
                fields=["episode"], condition=Q(stopped_at__isnull=True), name="rest_one_open_per_episode"
            ),
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=True) | Q(stopped_at__gt=F("started_at")), name="rest_stop_after_start"
            ),
        ]
        indexes = [models.Index(fields=["episode", "started_at"], name="rest_episode_time")]

    def __str__(self) -> str:
        return f"rest from {self.started_at}"


class MedicationClass(models.TextChoices):
    NSAID = "nsaid", "Anti-inflammatory (NSAID)"
    ACETAMINOPHEN = "acetaminophen", "Acetaminophen (paracetamol)"
    MUSCLE_RELAXANT = "muscle_relaxant", "Muscle relaxant"
    OPIOID = "opioid", "Opioid"
    OTHER = "other", "Other"


class MedicationIntake(models.Model):
    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="medication_intakes")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="medication_intakes")
    client_uuid = models.UUIDField()
    taken_at = models.DateTimeField()
    med_class = models.CharField(max_length=20, choices=MedicationClass.choices)
    name = models.CharField(max_length=80, blank=True)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    payload_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_uuid"], name="medication_client_uuid_unique"),
            models.CheckConstraint(condition=Q(dose_mg__gt=0, dose_mg__lte=5000), name="medication_dose_sane"),
        ]
        indexes = [models.Index(fields=["episode", "taken_at"], name="medication_episode_time")]

    def __str__(self) -> str:
        return f"{self.med_class} {self.dose_mg} mg at {self.taken_at}"


class Activity(models.Model):
    """A walk, with pain before and after: 30 min without more pain means running may be tried."""

    class Kind(models.TextChoices):
        WALKING = "walking", "Walking"

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activities")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="activities")
    client_uuid = models.UUIDField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WALKING)
    started_at = models.DateTimeField()
    minutes = models.PositiveSmallIntegerField()
    pain_before = models.PositiveSmallIntegerField()
    pain_after = models.PositiveSmallIntegerField()
    payload_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(fields=["patient", "client_uuid"], name="activity_client_uuid_unique"),
            models.CheckConstraint(condition=Q(minutes__gte=1, minutes__lte=600), name="activity_minutes_sane"),
            models.CheckConstraint(condition=Q(pain_before__lte=10, pain_after__lte=10), name="activity_pain_0_10"),
        ]
        indexes = [models.Index(fields=["episode", "started_at"], name="activity_episode_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.minutes} min at {self.started_at}"
