"""Who may see whom. The one place that decides which patients a physiotherapist may read.

Every physiotherapist endpoint starts from `patients_visible_to` or `patient_get_for_physiotherapist`
(which is built on it): a patient is visible while they have an active care link to the
physiotherapist, and from the instant the patient revokes it or the physiotherapist discharges them,
nothing of theirs is.
"""

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from backcare.accounts.models import Role, User
from backcare.core.errors import Invalid, NotFound
from recovery.care.models import CareInvite, CareLink, CareNote
from recovery.episodes.models import Episode


def care_links_active_for(*, physiotherapist: User) -> QuerySet[CareLink]:
    """The physiotherapist's active links (the rows the visibility rule is made of)."""
    if not physiotherapist.is_authenticated or physiotherapist.role != Role.PHYSIOTHERAPIST:
        return CareLink.objects.none()
    return CareLink.objects.filter(
        physiotherapist=physiotherapist,
        status=CareLink.Status.ACTIVE,
        patient__role=Role.PATIENT,
        patient__is_active=True,
    )


def patients_visible_to(*, physiotherapist: User) -> QuerySet[User]:
    """The patients `physiotherapist` may read right now."""
    return User.objects.filter(pk__in=care_links_active_for(physiotherapist=physiotherapist).values("patient_id"))


def care_link_for_physiotherapist(*, physiotherapist: User, patient_id: int) -> CareLink:
    """The active link to one visible patient (with the patient and their profile), else 404.

    A patient who does not exist, who never linked, or whose link ended all answer the same 404.
    """
    link = (
        care_links_active_for(physiotherapist=physiotherapist)
        .filter(patient_id=patient_id)
        .select_related("patient", "patient__profile")
        .first()
    )
    if link is None:
        raise NotFound("No such patient.")
    return link


def patient_get_for_physiotherapist(*, physiotherapist: User, patient_id: int) -> User:
    return care_link_for_physiotherapist(physiotherapist=physiotherapist, patient_id=patient_id).patient


def care_links_of_patient(*, patient: User, status: str | None = None) -> QuerySet[CareLink]:
    """Every link the patient ever made (or those with this status): who can see their data now, and who could."""
    links = CareLink.objects.filter(patient=patient).select_related("physiotherapist")
    return links if status is None else links.filter(status=status)


def care_invites_outstanding(*, physiotherapist: User) -> QuerySet[CareInvite]:
    """Invitations that can still be redeemed."""
    return CareInvite.objects.filter(
        physiotherapist=physiotherapist, used_at__isnull=True, expires_at__gt=timezone.now()
    )


def patient_episodes(*, patient: User) -> QuerySet[Episode]:
    return Episode.objects.filter(patient=patient).order_by("-onset")


def patient_episode_get(*, patient: User, episode_id: uuid.UUID, field: str = "episode") -> Episode:
    """One of the patient's episodes, named by a filter or body field; another's is 'no such episode'."""
    episode = Episode.objects.filter(patient=patient, pk=episode_id).first()
    if episode is None:
        raise Invalid({field: ["No such episode."]})
    return episode


def care_notes_of_patient(*, patient: User) -> QuerySet[CareNote]:
    """The patient's notes from their care team (visible to every physiotherapist they link to)."""
    return CareNote.objects.filter(patient=patient).select_related("author")


def care_patient_summary(*, link: CareLink) -> dict[str, Any]:
    """One visible patient as their physiotherapist sees them: who, since when, their episodes."""
    return {"patient": link.patient, "link": link, "episodes": list(patient_episodes(patient=link.patient))}


def physiotherapists_of_patient(*, patient_id: int) -> list[int]:
    """Ids of the physiotherapists who may see the patient now: the visibility rule read from the patient's side."""
    return list(
        CareLink.objects.filter(
            patient_id=patient_id,
            status=CareLink.Status.ACTIVE,
            physiotherapist__role=Role.PHYSIOTHERAPIST,
            physiotherapist__is_active=True,
            patient__is_active=True,
        )
        .order_by("physiotherapist_id")
        .values_list("physiotherapist_id", flat=True)
    )
