"""The durable outbox: one row per planned notification, one per device it goes to, one per try."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from recovery.episodes.models import Episode


class Reminder(models.Model):
    """One planned notification. The engine decides which slots exist; this row is the promise to send.

    The slot is unique per episode, so re-planning is idempotent, and it doubles as the collapse
    key on the phone: a redelivered reminder replaces itself instead of showing twice.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CLAIMED = "claimed", "Claimed by a dispatcher"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired (claimed too late to be worth sending)"

    class Action(models.TextChoices):
        DONE = "done", "Done"
        SNOOZE = "snooze", "Snooze"
        SKIP = "skip", "Skip"
        START = "start", "Start now"
        STOP = "stop", "It's off"

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="reminders")
    # Someone other than the patient (a physiotherapist's red-flag alert): the dispatcher sends to their devices,
    # the episode's planning leaves the row alone and the patient neither sees nor answers it.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_reminders"
    )
    kind = models.CharField(max_length=32)
    slot = models.CharField(max_length=160)
    due_at = models.DateTimeField()
    safety = models.BooleanField(default=False, help_text="Taking ice or heat off: never snoozed, skipped or dropped")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a dispatcher claimed it")
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_action = models.CharField(max_length=8, choices=Action.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "slot"], name="reminder_slot_unique"),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(claim_expires_at__isnull=False), name="reminder_claim_has_expiry"
            ),
        ]
        indexes = [
            # The dispatcher's two polling queries, each behind a partial index.
            models.Index(fields=["due_at"], condition=Q(status="scheduled"), name="reminder_due_scheduled"),
            models.Index(fields=["claim_expires_at"], condition=Q(status="claimed"), name="reminder_claim_expiry"),
            models.Index(fields=["episode", "status"], name="reminder_episode_status"),
            # Reads of the care team (migration 0006): the triage's last delivery and 7-day counts, and the
            # timeline's "sent" and "acknowledged" branches, each a range of one index.
            models.Index(
                fields=["patient", "-sent_at"], condition=Q(sent_at__isnull=False), name="reminder_patient_sent"
            ),
            models.Index(
                fields=["patient", "-acknowledged_at"],
                condition=Q(acknowledged_at__isnull=False),
                name="reminder_patient_acked",
            ),
            models.Index(fields=["episode", "due_at"], name="reminder_episode_due"),
            # /healthz counts the reminders expired lately.
            models.Index(fields=["due_at"], condition=Q(status="expired"), name="reminder_expired_due"),
        ]

    def __str__(self) -> str:
        return f"{self.slot} due {self.due_at} ({self.status})"


class Delivery(models.Model):
    """A reminder on its way to one device; retried on its own, so a failing device holds up no other."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Being sent"
        SENT = "sent", "Sent"
        RETRY = "retry", "Waiting to retry"
        GONE = "gone", "Device gone (404/410)"
        FAILED = "failed", "Failed for good"
        CANCELLED = "cancelled", "Cancelled"

    # Still on its way: a reminder ends only when none of its deliveries is.
    OPEN = (Status.PENDING, Status.CLAIMED, Status.RETRY)

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    device_type = models.CharField(max_length=8, help_text="webpush, fcm or apns")
    device_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["next_attempt_at", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["reminder", "device_type", "device_id"], name="delivery_once_per_device"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "retry"]), name="delivery_due"),
            models.Index(fields=["claim_expires_at"], condition=Q(status="claimed"), name="delivery_claim_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.reminder_id} -> {self.device_type}:{self.device_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """Every try, with the push service's answer: the audit trail of 'was it sent?'."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16)  # sent, gone, retry, failed
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.outcome} {self.status_code}"
