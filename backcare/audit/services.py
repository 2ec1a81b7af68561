from collections.abc import Iterable

from django.db import DatabaseError
from django.utils import timezone
from rest_framework import exceptions, status

from backcare.accounts.models import User

from .models import AccessLog


class AccessNotRecorded(exceptions.APIException):
    """The read could not be written to the access log, so it is not answered."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This access could not be recorded in the access log, so nothing is shown. Try again."
    default_code = "access_not_recorded"


def access_record(*, actor: User, patient_ids: Iterable[int], action: str, path: str, request_id: str) -> int:
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
            path=path[:500],
            request_id=request_id[:64],
        )
    except DatabaseError as exc:
        raise AccessNotRecorded() from exc
