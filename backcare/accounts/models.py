from datetime import time

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from .timezones import validate_iana_zone


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    PHYSIOTHERAPIST = "physiotherapist", "Physiotherapist"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """Signs in with an email address; the role decides which half of the API it may use."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PATIENT)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_physiotherapist(self) -> bool:
        return self.role == Role.PHYSIOTHERAPIST


class Profile(models.Model):
    """Per-person settings; the time zone and sleep window drive every local-day computation."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_iana_zone])
    sleep_start = models.TimeField(default=time(23, 0))
    sleep_end = models.TimeField(default=time(7, 0))
    desk_worker = models.BooleanField(default=False)
    # Safety reminders (take the ice or heat off) cannot be switched off; these can.
    notify_treatment = models.BooleanField(default=True)
    notify_checkin = models.BooleanField(default=True)
    notify_movement = models.BooleanField(default=True)
    # Fewer heat start reminders a day (None: the protocol's rhythm). Never fewer remove reminders.
    heat_reminders_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"
