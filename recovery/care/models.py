"""The care team: invitations, consented links between a patient and a physiotherapist, and notes.

Imported into recovery.models, so the models belong to the recovery app. The people are referenced
by string so this module needs nothing from recovery.models.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class CareInvite(models.Model):
    """A single-use code a physiotherapist hands to a patient. Only a keyed hash of the code is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    physiotherapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_invites")
    code_digest = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA256 of the normalised code")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="care_invite_expires_after_created"
            ),
        ]
        indexes = [models.Index(fields=["physiotherapist", "-created_at"], name="care_invite_physio_time")]

    def __str__(self) -> str:
        return f"invite {self.id} by {self.physiotherapist_id}"


class CareLink(models.Model):
    """A patient's consent that one physiotherapist may read their recovery, from consented_at until it ends."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked by the patient"
        DISCHARGED = "discharged", "Discharged by the physiotherapist"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_links")
    physiotherapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_patient_links"
    )
    invite = models.OneToOneField(CareInvite, null=True, blank=True, on_delete=models.SET_NULL, related_name="link")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    consented_at = models.DateTimeField(help_text="When the patient redeemed the invitation (UTC)")
    ended_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the physiotherapist last marked the patient reviewed"
    )

    class Meta:
        ordering = ["-consented_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "physiotherapist"],
                condition=Q(status="active"),
                name="care_link_one_active_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(status="active", ended_at__isnull=True)
                | (~Q(status="active") & Q(ended_at__isnull=False) & Q(ended_at__gte=F("consented_at"))),
                name="care_link_end_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["physiotherapist", "status"], name="care_link_physio_status"),
            models.Index(fields=["patient", "status"], name="care_link_patient_status"),
        ]

    def __str__(self) -> str:
        return f"link {self.patient_id} -> {self.physiotherapist_id} ({self.status})"


class InviteAttempt(models.Model):
    """One try at redeeming a code: the counters behind the per-user and per-code rate limits."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_digest = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "at"], name="invite_attempt_user_time"),
            models.Index(fields=["code_digest", "at"], name="invite_attempt_code_time"),
        ]

    def __str__(self) -> str:
        return f"attempt by {self.user_id} at {self.at}"


class CareNote(models.Model):
    """A physiotherapist's note on a patient (optionally about one episode); read by the patient's care team."""

    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="care_notes_written"
    )
    episode = models.ForeignKey(
        "recovery.Episode", null=True, blank=True, on_delete=models.SET_NULL, related_name="care_notes"
    )
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="care_note_patient_time")]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.patient_id}"
