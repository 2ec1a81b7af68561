from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from backcare.core.api import Conflict

from .models import Profile, Role, User
from .signals import profile_changed


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    display_name: str = "",
    timezone: str = "UTC",
    role: str = Role.PATIENT,
) -> User:
    email = email.strip().lower()
    candidate = User(email=email, display_name=display_name, role=role)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:  # name the field, not non_field_errors
        raise DjangoValidationError({"password": exc.messages}) from exc
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict({"email": ["An account with this email already exists."]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, display_name=display_name, role=role)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict({"email": ["An account with this email already exists."]}) from exc
    Profile.objects.create(user=user, timezone=timezone)
    return user


def profile_get_or_create(*, user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


_PROFILE_FIELDS = {
    "timezone",
    "sleep_start",
    "sleep_end",
    "desk_worker",
    "notify_treatment",
    "notify_checkin",
    "notify_movement",
    "heat_reminders_per_day",
}


@transaction.atomic
def profile_update(*, user: User, data: dict[str, Any]) -> Profile:
    profile = Profile.objects.select_for_update().get(pk=profile_get_or_create(user=user).pk)
    for field, value in data.items():
        if field not in _PROFILE_FIELDS:
            raise ValueError(f"profile field {field} is not writable")
        setattr(profile, field, value)
    profile.full_clean()
    profile.save()
    # Zone, sleep window and preferences change when reminders fall: receivers re-plan in this transaction.
    profile_changed.send(sender=Profile, user=user, profile=profile)
    return profile


@transaction.atomic
def auth_token_issue(*, user: User) -> tuple[AuthToken, str]:
    """A new token; beyond the per-user limit the oldest ones are revoked (knox only enforces it in its own view)."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit:
        keep = AuthToken.objects.filter(user=user).order_by("-created").values_list("pk", flat=True)[: limit - 1]
        AuthToken.objects.filter(user=user).exclude(pk__in=list(keep)).delete()
    return AuthToken.objects.create(user=user)


def auth_tokens_purge_expired() -> int:
    deleted, _ = AuthToken.objects.filter(expiry__lt=dj_timezone.now()).delete()
    return deleted
