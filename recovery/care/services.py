"""Writes for the care team: invitations, consent (redeeming), revoking, discharging, reviews, notes,
and protocol changes a physiotherapist prescribes; and the access log's rule for the physiotherapist's side.

The rule: whatever a physiotherapist is shown of a patient, or writes about one, is written to the access
log, in the same transaction as the write, or the request is refused (503, AccessNotRecorded) and shows
nothing. Writes record it inside their own transaction; reads go through care_patient_read.
"""

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from backcare.accounts.models import Role, User
from backcare.audit.services import AccessContext, access_record
from backcare.core.errors import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound, TooMany
from recovery.care.models import CareInvite, CareLink, CareNote, InviteAttempt
from recovery.care.selectors import care_link_for_physiotherapist, care_links_active_for, patient_episode_get
from recovery.episodes.models import Episode
from recovery.protocol.definition import ProtocolError
from recovery.reminders.models import Reminder
from recovery.treatment.models import Prescription
from recovery.treatment.services import prescription_create

# No 0/O, 1/I/L: a code read aloud or copied from paper cannot be mistyped into another valid one.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31**10, about 2**49.5: unguessable within the attempt limits
INVITE_TTL = timedelta(days=7)
MAX_OUTSTANDING_INVITES = 50
_DIGEST_SALT = "backcare.care-invite"

T = TypeVar("T")


# --- the access log ---------------------------------------------------------------------------------


def care_access_record(
    *, physiotherapist: User, patient_ids: Iterable[int], action: str, access: AccessContext
) -> None:
    """Write that `physiotherapist` is shown these patients' data (`action`), in the caller's transaction if any.

    Raises AccessNotRecorded (503) when the log cannot be written: the caller answers nothing then.
    """
    access_record(actor=physiotherapist, patient_ids=patient_ids, action=action, context=access)


def care_patient_read(
    *,
    physiotherapist: User,
    patient_id: int,
    action: str,
    access: AccessContext,
    read: Callable[[CareLink], T],
) -> T:
    """One audited read of one patient: their active link (NotFound unless visible, with the patient and their
    profile loaded), `read(link)`, then its access-log row. Only a read that succeeded is logged, and its
    result is returned only once it is (else AccessNotRecorded, 503)."""
    link = care_link_for_physiotherapist(physiotherapist=physiotherapist, patient_id=patient_id)
    result = read(link)
    care_access_record(physiotherapist=physiotherapist, patient_ids=[link.patient_id], action=action, access=access)
    return result


# --- invitations and consent --------------------------------------------------------------------------


def invite_code_normalise(code: str) -> str:
    """Case, spaces and dashes do not matter: ' abcde-fghjk ' is ABCDEFGHJK."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def invite_code_format(code: str) -> str:
    """How a code is shown: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def invite_code_digest(code: str) -> str:
    """Keyed hash of the normalised code (the code itself is never stored)."""
    return salted_hmac(_DIGEST_SALT, invite_code_normalise(code), algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class IssuedInvite:
    invite: CareInvite
    code: str  # shown once, to the physiotherapist who made it


def care_invite_create(*, physiotherapist: User, now: datetime | None = None) -> IssuedInvite:
    if physiotherapist.role != Role.PHYSIOTHERAPIST:
        raise Forbidden("Only physiotherapists invite patients.")
    now = now or timezone.now()
    outstanding = CareInvite.objects.filter(
        physiotherapist=physiotherapist, used_at__isnull=True, expires_at__gt=now
    ).count()
    if outstanding >= MAX_OUTSTANDING_INVITES:
        raise Conflict({"detail": f"You have {outstanding} unused invitations; wait until some are used or expire."})
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                invite = CareInvite.objects.create(
                    physiotherapist=physiotherapist,
                    code_digest=invite_code_digest(code),
                    created_at=now,
                    expires_at=now + INVITE_TTL,
                )
        except IntegrityError:  # the same code drawn twice: astronomically rare, draw again
            continue
        return IssuedInvite(invite, invite_code_format(code))
    raise RuntimeError("could not draw a fresh invitation code")


def _invite_refused(error: type[DomainError], *, reason: str, message: str) -> DomainError:
    """A code that cannot be redeemed; `reason` says why (invalid, used, expired, already_linked)."""
    return error({"code": [message], "reason": reason})


def _retry_after(wait: int) -> str:
    # Worded as DRF's Throttled was, so clients see the same text.
    return f"Expected available in {wait} second{'' if wait == 1 else 's'}."


def _attempts_check(*, user: User, digest: str, now: datetime) -> None:
    """Refuse with 429 when the user, or anyone on this code, has tried too often lately."""
    window = timedelta(minutes=settings.BACKCARE_INVITE_ATTEMPT_WINDOW_MINUTES)
    since = now - window
    counts = InviteAttempt.objects.filter(Q(user=user) | Q(code_digest=digest), at__gt=since).aggregate(
        by_user=Count("id", filter=Q(user=user)),
        by_code=Count("id", filter=Q(code_digest=digest)),
        user_first=Min("at", filter=Q(user=user)),
        code_first=Min("at", filter=Q(code_digest=digest)),
    )
    waits = []
    if counts["by_user"] >= settings.BACKCARE_INVITE_ATTEMPTS_PER_USER:
        waits.append(counts["user_first"] + window - now)
    if counts["by_code"] >= settings.BACKCARE_INVITE_ATTEMPTS_PER_CODE:
        waits.append(counts["code_first"] + window - now)
    if waits:
        wait = max(1, int(max(waits).total_seconds()) + 1)
        raise TooMany(
            f"Too many attempts to redeem an invitation code. {_retry_after(wait)}", headers={"Retry-After": str(wait)}
        )


def care_invite_redeem(*, patient: User, code: str, now: datetime | None = None) -> CareLink:
    """The patient's consent: a valid code links them to its physiotherapist from now on.

    Every attempt is counted (committed before the code is judged, so a refusal still counts) and
    limited per user and per code. A wrong code is 400, a used one 409, an expired one 410, each with
    `reason`; a code of a physiotherapist the patient is already linked to is 409 and stays unused.
    """
    if patient.role != Role.PATIENT:
        raise Forbidden("Only patients redeem invitations.")
    now = now or timezone.now()
    normalised = invite_code_normalise(code)
    digest = invite_code_digest(normalised)
    _attempts_check(user=patient, digest=digest, now=now)
    InviteAttempt.objects.create(user=patient, code_digest=digest, at=now)
    InviteAttempt.objects.filter(user=patient, at__lt=now - timedelta(days=1)).delete()
    with transaction.atomic():
        invite = (
            CareInvite.objects.select_for_update(of=("self",))
            .select_related("physiotherapist")
            .filter(code_digest=digest)
            .first()
        )
        physio = invite.physiotherapist if invite else None
        if invite is None or physio.role != Role.PHYSIOTHERAPIST or not physio.is_active:
            raise _invite_refused(
                Invalid,
                reason="invalid",
                message="No invitation has this code: check it, or ask your physiotherapist for a new one.",
            )
        if invite.used_at is not None:
            raise _invite_refused(
                Conflict,
                reason="used",
                message="This invitation was already used; ask your physiotherapist for a new one.",
            )
        if invite.expires_at <= now:
            raise _invite_refused(
                Gone,
                reason="expired",
                message="This invitation has expired; ask your physiotherapist for a new one.",
            )
        if CareLink.objects.filter(patient=patient, physiotherapist=physio, status=CareLink.Status.ACTIVE).exists():
            raise _invite_refused(
                Conflict, reason="already_linked", message="You are already linked to this physiotherapist."
            )
        try:
            with transaction.atomic():
                link = CareLink.objects.create(patient=patient, physiotherapist=physio, invite=invite, consented_at=now)
        except IntegrityError as exc:  # a concurrent redemption of another code of the same physiotherapist
            raise _invite_refused(
                Conflict, reason="already_linked", message="You are already linked to this physiotherapist."
            ) from exc
        invite.used_at, invite.used_by = now, patient
        invite.save(update_fields=["used_at", "used_by"])
    return link


def care_link_revoke(*, patient: User, link_id: uuid.UUID, now: datetime | None = None) -> CareLink:
    """The patient withdraws consent: from this instant the physiotherapist sees nothing of theirs.

    Revoking a link that has already ended changes nothing (and says so by its status).
    """
    now = now or timezone.now()
    with transaction.atomic():
        link = (
            CareLink.objects.select_for_update(of=("self",))
            .select_related("physiotherapist")
            .filter(pk=link_id, patient=patient)
            .first()
        )
        if link is None:
            raise NotFound("No such link.")
        if link.status == CareLink.Status.ACTIVE:
            link.status, link.ended_at = CareLink.Status.REVOKED, max(now, link.consented_at)
            link.save(update_fields=["status", "ended_at"])
            _alerts_withdraw(link, now=now)
    return link


def _alerts_withdraw(link: CareLink, *, now: datetime) -> None:
    """A link that ends takes its red-flag alert pushes still to come with it (recovery.triage.alerts)."""
    Reminder.objects.filter(
        patient_id=link.patient_id,
        recipient_id=link.physiotherapist_id,
        status__in=(Reminder.Status.SCHEDULED, Reminder.Status.CLAIMED),
    ).update(status=Reminder.Status.CANCELLED, claim_expires_at=None, updated_at=now)


def _active_link_locked(*, physiotherapist: User, patient_id: int) -> CareLink:
    """The visible patient's link, locked for the rest of the transaction (a revoke waits, or wins first)."""
    link = (
        care_links_active_for(physiotherapist=physiotherapist)
        .select_for_update(of=("self",))
        .select_related("patient")
        .filter(patient_id=patient_id)
        .first()
    )
    if link is None:
        raise NotFound("No such patient.")
    return link


# --- the physiotherapist's writes (each recorded in the access log in its own transaction) --------------


def care_link_discharge(
    *, physiotherapist: User, patient_id: int, access: AccessContext, now: datetime | None = None
) -> CareLink:
    """The physiotherapist ends the care: the patient is no longer visible to them."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        link.status, link.ended_at = CareLink.Status.DISCHARGED, max(now, link.consented_at)
        link.save(update_fields=["status", "ended_at"])
        _alerts_withdraw(link, now=now)
        _recorded(physiotherapist, link.patient_id, "patient.discharged", access)
    return link


def care_patient_mark_reviewed(
    *, physiotherapist: User, patient_id: int, access: AccessContext, now: datetime | None = None
) -> CareLink:
    """The physiotherapist has looked at the patient: red flags reported until now stop counting as open."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        link.last_reviewed_at = now
        link.save(update_fields=["last_reviewed_at"])
        _recorded(physiotherapist, link.patient_id, "patient.reviewed", access)
    return link


def care_note_create(
    *,
    physiotherapist: User,
    patient_id: int,
    text: str,
    access: AccessContext,
    episode_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> CareNote:
    now = now or timezone.now()
    text = text.strip()
    if not text:
        raise Invalid({"text": ["Write something."]})
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        episode = patient_episode_get(patient=link.patient, episode_id=episode_id) if episode_id else None
        note = CareNote.objects.create(
            patient=link.patient, author=physiotherapist, episode=episode, text=text, created_at=now
        )
        _recorded(physiotherapist, link.patient_id, "patient.note_written", access)
    return note


def care_prescription_create(
    *,
    physiotherapist: User,
    patient_id: int,
    overrides: dict[str, Any],
    access: AccessContext,
    note: str = "",
    episode_id: uuid.UUID | None = None,
) -> Prescription:
    """A protocol change for the patient's open episode (or the one named), inside the hard bounds.

    The overrides replace the previous prescription's (the newest applies): send every value that is
    to differ from the protocol version. Recorded with its author and time, shown to the patient on
    their protocol page, and the episode's reminders are re-planned in the same transaction, as is the
    access-log row ("patient.prescribed").
    """
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        episode = _episode_to_prescribe_for(patient=link.patient, episode_id=episode_id)
        try:
            prescription = prescription_create(episode=episode, overrides=overrides, author=physiotherapist, note=note)
        except ProtocolError as exc:
            raise Invalid({"overrides": exc.errors}) from exc
        _recorded(physiotherapist, link.patient_id, "patient.prescribed", access)
    return prescription


def _episode_to_prescribe_for(*, patient: User, episode_id: uuid.UUID | None) -> Episode:
    """The episode named (else the open one), locked, with its protocol version; Conflict unless open."""
    if episode_id is not None:
        episode = patient_episode_get(patient=patient, episode_id=episode_id)
    else:
        episode = Episode.objects.filter(patient=patient, status=Episode.Status.OPEN).first()
        if episode is None:
            raise Conflict({"episode": ["The patient has no open episode to prescribe for."]})
    if episode.status != Episode.Status.OPEN:
        raise Conflict({"episode": ["This episode is resolved: its protocol can no longer change."]})
    return (
        Episode.objects.select_for_update(of=("self",), no_key=True)
        .select_related("protocol_version")
        .get(pk=episode.pk)
    )


def _recorded(physiotherapist: User, patient_id: int, action: str, access: AccessContext) -> None:
    care_access_record(physiotherapist=physiotherapist, patient_ids=[patient_id], action=action, access=access)
