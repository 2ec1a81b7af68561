"""A patient deletes their account: re-authenticated, explicit, all at once.

Everything of theirs goes in one transaction (account, profile, tokens, devices, episodes with their
check-ins, red flags, ice and heat, rest, medication, walks, prescriptions and reminders with their
deliveries, care links, notes about them, invitation attempts; then its sign-in failure counters): either all of
it or, if anything fails, none of it.

The access log (backcare.audit) is kept, as the law requires: its rows name the patient by id without
a foreign-key constraint, so they outlive the account; the reader's name is kept as it was.
"""

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from rest_framework import exceptions

from backcare.audit.models import AccessLog
from backcare.core.net import client_address

from . import signin_guard
from .models import Role, User

CONFIRMATION = "delete my account"


def account_reauthenticate(*, request: HttpRequest, user: User, password: str) -> None:
    """The password of the signed-in account, checked the way sign-in checks it (failures count towards
    the same delays). Raises a 400 naming `password`, or TooMany (429) while the attempt must wait."""
    attempt = signin_guard.SignInAttempt(
        email=user.email,
        address=client_address(request),
        device_cookie=request.COOKIES.get(signin_guard.DEVICE_COOKIE),
    )
    signin_guard.signin_wait(attempt=attempt)
    authenticated = authenticate(request, email=user.email, password=password)
    if authenticated is None or authenticated.pk != user.pk:
        signin_guard.signin_failed(attempt=attempt)
        raise exceptions.ValidationError({"password": ["Wrong password."]})


@dataclass(frozen=True)
class AccountDeleted:
    user_id: int
    removed: dict[str, int]  # model label -> rows removed
    access_log_kept: int


def account_delete(*, user: User) -> AccountDeleted:
    """Remove the patient and everything of theirs, in one transaction; keep the access log."""
    if user.role != Role.PATIENT:
        raise exceptions.PermissionDenied("Only patient accounts can be deleted here; ask staff.")
    with transaction.atomic():
        # Locking the row makes any concurrent write that refers to the account wait, then fail on its
        # foreign key: nothing new can slip in between collecting the rows and deleting them.
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise exceptions.NotFound("This account no longer exists.")
        kept = AccessLog.objects.filter(patient_id=locked.pk).count()
        _, removed = locked.delete()
        counts = Counter(removed)
    # Sign-in failure counters live in the cache (no network call inside the transaction above).
    signin_guard.signin_forget(email=locked.email)
    return AccountDeleted(user_id=user.pk, removed={k: v for k, v in sorted(counts.items()) if v}, access_log_kept=kept)
