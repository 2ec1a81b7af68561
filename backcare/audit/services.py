import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone

from backcare.accounts.models import User
from backcare.core.errors import Unavailable
from backcare.core.net import client_address

from .models import AccessLog


class AccessNotRecorded(Unavailable):
    """The read could not be written to the access log, so it is not answered."""

    default_detail = "This access could not be recorded in the access log, so nothing is shown. Try again."


@dataclass(frozen=True)
class AccessContext:
    """The request an access came through, written beside each access-log row (so a patient can ask about it)."""

    path: str
    request_id: str  # the server's own (backcare.core.middleware.RequestIdMiddleware)
    client_request_id: str = ""  # what the client sent as X-Request-ID, kept beside it
    client_address: str | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> "AccessContext":
        return cls(
            path=request.get_full_path(),
            request_id=getattr(request, "request_id", "") or uuid.uuid4().hex,
            client_request_id=getattr(request, "client_request_id", ""),
            client_address=client_address(request),
        )


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
            client_request_id=context.client_request_id[:64],
            client_address=context.client_address,
        )
    except DatabaseError as exc:
        raise AccessNotRecorded() from exc
