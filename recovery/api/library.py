"""GET library/for-me/: the library's guidance for the patient's episode now.

The library (content) knows phases, not episodes: this finds the episode and its plan and asks the
library for that day and phase. The answer is the library's (its serializers, ETag and Cache-Control).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from backcare.accounts.models import User
from backcare.core.permissions import IsPatient
from content.api import caching
from content.api import serializers as s
from content.models import PHASE_NAMES, LibraryItem, Phase
from content.selectors import library_guidance
from recovery.episodes.models import Episode
from recovery.episodes.selectors import episode_get, episode_list
from recovery.treatment.selectors import episode_plan


@dataclass(frozen=True)
class PatientGuidance:
    episode: Episode | None
    phase: Phase
    day: int | None
    acute_ends_at: datetime | None
    items: list[LibraryItem]
    not_yet: list[LibraryItem]


def guidance_for_patient(
    *, patient: User, now: datetime, language: str, episode_id: uuid.UUID | None = None
) -> PatientGuidance:
    """What applies to the patient now: their open episode (or the one asked for) decides the phase.

    Another patient's episode is "not found", exactly like one that does not exist (404). Without an
    episode the library answers for the time between spasms.
    """
    if episode_id is not None:
        episode = episode_get(patient=patient, episode_id=episode_id)
    else:
        episode = episode_list(patient=patient).filter(status=Episode.Status.OPEN).order_by("-onset").first()
    plan = episode_plan(episode=episode, now=now) if episode is not None else None
    day = plan.day if plan else None
    guidance = library_guidance(language=language, day=day, engine_phase=plan.phase if plan else None)
    return PatientGuidance(
        episode=episode,
        phase=guidance.phase,
        day=day,
        acute_ends_at=plan.acute_ends_at if plan else None,
        items=guidance.items,
        not_yet=guidance.not_yet,
    )


# Guidance follows the clock (the phase changes at 72 h): the phone may keep it, but revalidates.
GUIDANCE_CACHE = "private, no-cache"


class GuidanceView(APIView):
    """What applies to you now: your episode's day and phase pick the articles and exercises."""

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[s.GuidanceQuerySerializer, caching.IF_NONE_MATCH, *caching.CACHE_HEADERS],
        responses={
            200: s.GuidanceSerializer,
            304: caching.NOT_MODIFIED,
            404: OpenApiResponse(description="The episode asked for is not one of yours."),
        },
        tags=["library"],
        summary="Guidance for me now",
        operation_id="library_for_me",
    )
    def get(self, request):
        query = caching.query_params(s.GuidanceQuerySerializer, request)
        guidance = guidance_for_patient(
            patient=request.user, now=timezone.now(), language=query["language"], episode_id=query.get("episode")
        )
        etag = caching.etag(
            "for-me",
            guidance.episode.pk if guidance.episode else None,
            PHASE_NAMES[guidance.phase],
            guidance.day,
            guidance.acute_ends_at,
            caching.fingerprint(guidance.items),
            caching.fingerprint(guidance.not_yet),
        )
        return caching.conditional(
            request, etag=etag, cache_control=GUIDANCE_CACHE, build=lambda: s.GuidanceSerializer(guidance).data
        )
