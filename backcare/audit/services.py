from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Unavailable

from .models import AccessLog


class AccessNotRecorded(Unavailable):
    """The read could not be written to the access log, so it is not answered."""

    default_detail = "This access could not be recorded in the access log, so nothing is shown. Try again."


@dataclass(frozen=True)
class AccessContext:
    """The request an access came through, written beside each access-log row (so a patient can ask about it)."""

    path: str
    request_id: str


def access_record(*, actor: User, patient_ids: Iterable[int], action: str, context: AccessContext) -> int:
    """Append one row per patient whose data `actor` is about to be shown (one INSERT). Returns how many.

    Raises AccessNotRecorded if the log cannot be written: the caller must not answer the read then.
    """
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return 0
    try:
        return AccessLog.objects.append_reads(
            at=timezone.now(),
            actor_id=actor.pk,
            actor_label=(actor.display_name or actor.email)[:254],
            patient_ids=ids,
            action=action,
            path=context.path[:500],
            request_id=context.request_id[:64],
        )
    except DatabaseError as exc:
        raise AccessNotRecorded() from exc
