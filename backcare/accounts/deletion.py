"""A patient deletes their account: re-authenticated, explicit, all at once.

Everything of theirs goes in one transaction (account, profile, tokens, devices, episodes with their
check-ins, red flags, ice and heat, rest, medication, walks, prescriptions and reminders with their
deliveries, care links, notes about them, invitation attempts, sign-in failure records): either all of
it or, if anything fails, none of it.

The access log (backcare.audit) is kept, as the law requires: its rows name the patient by id without
a foreign-key constraint, so they outlive the account; the reader's name is kept as it was.
"""

from collections import Counter
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessFailureLog
from axes.models import AccessLog as SignInLog
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from rest_framework import exceptions

from backcare.audit.models import AccessLog

from .models import Role, User

CONFIRMATION = "delete my account"


class Locked(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts. Try again later."

    def __init__(self):
        super().__init__(wait=int(settings.AXES_COOLOFF_TIME.total_seconds()))


def account_reauthenticate(*, request: HttpRequest, user: User, password: str) -> None:
    """The password of the signed-in account, checked the way sign-in checks it (failures count towards
    the same lockout). Raises a 400 naming `password`, or 429 while locked out."""
    authenticated = authenticate(request, email=user.email, password=password)
    if getattr(request, "axes_locked_out", False):
        raise Locked()
    if authenticated is None or authenticated.pk != user.pk:
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
        for model in (AccessAttempt, AccessFailureLog, SignInLog):
            _, by_model = model.objects.filter(username__iexact=locked.email).delete()
            counts.update(by_model)
    return AccountDeleted(user_id=user.pk, removed={k: v for k, v in sorted(counts.items()) if v}, access_log_kept=kept)
