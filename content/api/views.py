"""The library API: list and search, one item, guidance for the patient now, and the checklist.

Every answer carries an ETag and Cache-Control so the phone can keep the library offline and ask
cheaply whether it changed: a matching If-None-Match gets 304 with no body. The tag is computed from
the items' versions before anything is serialized.
"""

import hashlib
import json

from django.http import Http404, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.core.permissions import IsPatient
from content import selectors
from content.api import serializers as s
from content.models import PHASE_NAMES

# Bump when the shape of the answers changes, so cached copies are not reused across it.
API_REVISION = 1
# The library changes rarely: a day fresh, then the phone asks again with If-None-Match.
LIBRARY_CACHE = "private, max-age=86400"
# Guidance follows the clock (the phase changes at 72 h): the phone may keep it, but revalidates.
GUIDANCE_CACHE = "private, no-cache"

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag of the copy you hold; an unchanged answer is 304 with no body.",
)
CACHE_HEADERS = [
    OpenApiParameter("ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304]),
    OpenApiParameter("Cache-Control", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304]),
]
NOT_MODIFIED = OpenApiResponse(description="Not modified: the copy you hold (If-None-Match) is current.")


def _etag(*parts) -> str:
    digest = hashlib.sha256(json.dumps([API_REVISION, *parts], default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _fingerprint(items) -> list:
    return [(item.pk, item.version) for item in items]


def _not_modified(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    tags = {tag.removeprefix("W/") for tag in parse_etags(header)}
    return "*" in tags or etag in tags


def _conditional(request, *, etag: str, cache_control: str, build):
    response = HttpResponseNotModified() if _not_modified(request, etag) else Response(build())
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response


def _query(serializer_class, request) -> dict:
    # A plain dict: DRF reads a QueryDict like a form and would take "?tag=" as "no tag" (the schema says 400).
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


class LibraryListView(APIView):
    @extend_schema(
        parameters=[s.LibraryQuerySerializer, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={200: s.LibraryListSerializer, 304: NOT_MODIFIED},
        tags=["library"],
        summary="List and search the library",
        operation_id="library_list",
    )
    def get(self, request):
        query = _query(s.LibraryQuerySerializer, request)
        items = selectors.library_items(
            language=query["language"],
            kind=query.get("kind"),
            tag=query.get("tag"),
            phase=query.get("phase"),
            query=query.get("q"),
        )
        etag = _etag("list", sorted(query.items()), _fingerprint(items))
        return _conditional(
            request,
            etag=etag,
            cache_control=LIBRARY_CACHE,
            build=lambda: (
                s.LibraryListSerializer({"language": query["language"], "count": len(items), "results": items}).data
            ),
        )


class LibraryDetailView(APIView):
    @extend_schema(
        parameters=[s.LanguageQuerySerializer, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={200: s.LibraryItemSerializer, 304: NOT_MODIFIED},
        tags=["library"],
        summary="One library item",
        operation_id="library_item",
    )
    def get(self, request, slug: str):
        query = _query(s.LanguageQuerySerializer, request)
        item = selectors.library_item_get(slug=slug, language=query["language"])
        return _conditional(
            request,
            etag=_etag("item", _fingerprint([item])),
            cache_control=LIBRARY_CACHE,
            build=lambda: s.LibraryItemSerializer(item).data,
        )


class GuidanceView(APIView):
    """What applies to you now: your episode's day and phase pick the articles and exercises."""

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[s.GuidanceQuerySerializer, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: s.GuidanceSerializer,
            304: NOT_MODIFIED,
            404: OpenApiResponse(description="The episode asked for is not one of yours."),
        },
        tags=["library"],
        summary="Guidance for me now",
        operation_id="library_for_me",
    )
    def get(self, request):
        query = _query(s.GuidanceQuerySerializer, request)
        guidance = selectors.guidance_for_patient(
            patient=request.user, now=timezone.now(), language=query["language"], episode_id=query.get("episode")
        )
        etag = _etag(
            "for-me",
            guidance.episode.pk if guidance.episode else None,
            PHASE_NAMES[guidance.phase],
            guidance.day,
            guidance.acute_ends_at,
            _fingerprint(guidance.items),
            _fingerprint(guidance.not_yet),
        )
        return _conditional(
            request, etag=etag, cache_control=GUIDANCE_CACHE, build=lambda: s.GuidanceSerializer(guidance).data
        )


class RedFlagChecklistView(APIView):
    @extend_schema(
        parameters=[IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: s.RedFlagChecklistSerializer,
            304: NOT_MODIFIED,
            404: OpenApiResponse(description="No checklist is loaded."),
        },
        tags=["library"],
        summary="The warning-sign checklist in force",
        operation_id="library_red_flags",
    )
    def get(self, request):
        ruleset = selectors.redflag_ruleset_current()
        if ruleset is None:
            raise Http404(_("No checklist is loaded."))
        return _conditional(
            request,
            etag=_etag("red-flags", ruleset.pk, ruleset.version),
            cache_control=LIBRARY_CACHE,
            build=lambda: s.RedFlagChecklistSerializer(ruleset).data,
        )
