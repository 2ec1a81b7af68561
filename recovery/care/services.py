"""Writes for the care team: invitations, consent (redeeming), revoking, discharging, reviews, notes,
and protocol changes a physiotherapist prescribes."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework import exceptions, status
from rest_framework.exceptions import ValidationError

from backcare.accounts.models import Role, User
from backcare.core.api import Conflict
from recovery.care.models import CareInvite, CareLink, CareNote, InviteAttempt
from recovery.care.selectors import care_links_active_for, patient_episode_get
from recovery.episodes.models import Episode
from recovery.protocol.definition import ProtocolError
from recovery.treatment.models import Prescription
from recovery.treatment.services import prescription_create

# No 0/O, 1/I/L: a code read aloud or copied from paper cannot be mistyped into another valid one.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31**10, about 2**49.5: unguessable within the attempt limits
INVITE_TTL = timedelta(days=7)
MAX_OUTSTANDING_INVITES = 50
_DIGEST_SALT = "backcare.care-invite"


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
        raise exceptions.PermissionDenied("Only physiotherapists invite patients.")
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


class InviteRefused(exceptions.APIException):
    """A code that cannot be redeemed; `reason` says why (invalid, used, expired, already_linked)."""

    def __init__(self, *, status_code: int, reason: str, message: str):
        self.status_code = status_code
        super().__init__({"code": [message], "reason": reason}, code=reason)


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
        raise exceptions.Throttled(
            wait=max(1, int(max(waits).total_seconds()) + 1),
            detail="Too many attempts to redeem an invitation code.",
        )


def care_invite_redeem(*, patient: User, code: str, now: datetime | None = None) -> CareLink:
    """The patient's consent: a valid code links them to its physiotherapist from now on.

    Every attempt is counted (committed before the code is judged, so a refusal still counts) and
    limited per user and per code. A wrong code is 400, a used one 409, an expired one 410, each with
    `reason`; a code of a physiotherapist the patient is already linked to is 409 and stays unused.
    """
    if patient.role != Role.PATIENT:
        raise exceptions.PermissionDenied("Only patients redeem invitations.")
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
            raise InviteRefused(
                status_code=status.HTTP_400_BAD_REQUEST,
                reason="invalid",
                message="No invitation has this code: check it, or ask your physiotherapist for a new one.",
            )
        if invite.used_at is not None:
            raise InviteRefused(
                status_code=status.HTTP_409_CONFLICT,
                reason="used",
                message="This invitation was already used; ask your physiotherapist for a new one.",
            )
        if invite.expires_at <= now:
            raise InviteRefused(
                status_code=status.HTTP_410_GONE,
                reason="expired",
                message="This invitation has expired; ask your physiotherapist for a new one.",
            )
        if CareLink.objects.filter(patient=patient, physiotherapist=physio, status=CareLink.Status.ACTIVE).exists():
            raise InviteRefused(
                status_code=status.HTTP_409_CONFLICT,
                reason="already_linked",
                message="You are already linked to this physiotherapist.",
            )
        try:
            with transaction.atomic():
                link = CareLink.objects.create(patient=patient, physiotherapist=physio, invite=invite, consented_at=now)
        except IntegrityError as exc:  # a concurrent redemption of another code of the same physiotherapist
            raise InviteRefused(
                status_code=status.HTTP_409_CONFLICT,
                reason="already_linked",
                message="You are already linked to this physiotherapist.",
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
            raise Http404("No such link.")
        if link.status == CareLink.Status.ACTIVE:
            link.status, link.ended_at = CareLink.Status.REVOKED, max(now, link.consented_at)
            link.save(update_fields=["status", "ended_at"])
    return link


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
        raise Http404("No such patient.")
    return link


def care_link_discharge(*, physiotherapist: User, patient_id: int, now: datetime | None = None) -> CareLink:
    """The physiotherapist ends the care: the patient is no longer visible to them."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        link.status, link.ended_at = CareLink.Status.DISCHARGED, max(now, link.consented_at)
        link.save(update_fields=["status", "ended_at"])
    return link


def care_patient_mark_reviewed(*, physiotherapist: User, patient_id: int, now: datetime | None = None) -> CareLink:
    """The physiotherapist has looked at the patient: red flags reported until now stop counting as open."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        link.last_reviewed_at = now
        link.save(update_fields=["last_reviewed_at"])
    return link


def care_note_create(
    *,
    physiotherapist: User,
    patient_id: int,
    text: str,
    episode_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> CareNote:
    now = now or timezone.now()
    text = text.strip()
    if not text:
        raise ValidationError({"text": ["Write something."]})
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        episode = patient_episode_get(patient=link.patient, episode_id=episode_id) if episode_id else None
        return CareNote.objects.create(
            patient=link.patient, author=physiotherapist, episode=episode, text=text, created_at=now
        )


def care_prescription_create(
    *,
    physiotherapist: User,
    patient_id: int,
    overrides: dict[str, Any],
    note: str = "",
    episode_id: uuid.UUID | None = None,
) -> Prescription:
    """A protocol change for the patient's open episode (or the one named), inside the hard bounds.

    The overrides replace the previous prescription's (the newest applies): send every value that is
    to differ from the protocol version. Recorded with its author and time, shown to the patient on
    their protocol page, and the episode's reminders are re-planned in the same transaction.
    """
    with transaction.atomic():
        link = _active_link_locked(physiotherapist=physiotherapist, patient_id=patient_id)
        if episode_id is not None:
            episode = patient_episode_get(patient=link.patient, episode_id=episode_id)
        else:
            episode = Episode.objects.filter(patient=link.patient, status=Episode.Status.OPEN).first()
            if episode is None:
                raise Conflict({"episode": ["The patient has no open episode to prescribe for."]})
        if episode.status != Episode.Status.OPEN:
            raise Conflict({"episode": ["This episode is resolved: its protocol can no longer change."]})
        episode = Episode.objects.select_for_update(of=("self",)).select_related("protocol_version").get(pk=episode.pk)
        try:
            return prescription_create(episode=episode, overrides=overrides, author=physiotherapist, note=note)
        except ProtocolError as exc:
            raise ValidationError({"overrides": exc.errors}) from exc
