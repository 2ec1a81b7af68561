"""The library API: list and search, one item, and the checklist; each answer is cacheable (api/caching.py).

Guidance for the patient now (GET library/for-me/) needs their episode: recovery serves it
(recovery/api/library.py), with this app's selector, serializers and caching.
"""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from content import selectors
from content.api import caching
from content.api import serializers as s


class LibraryListView(APIView):
    @extend_schema(
        parameters=[s.LibraryQuerySerializer, caching.IF_NONE_MATCH, *caching.CACHE_HEADERS],
        responses={200: s.LibraryListSerializer, 304: caching.NOT_MODIFIED},
        tags=["library"],
        summary="List and search the library",
        operation_id="library_list",
    )
    def get(self, request):
        query = caching.query_params(s.LibraryQuerySerializer, request)
        items = selectors.library_items(
            language=query["language"],
            kind=query.get("kind"),
            tag=query.get("tag"),
            phase=query.get("phase"),
            query=query.get("q"),
        )
        etag = caching.etag("list", sorted(query.items()), caching.fingerprint(items))
        return caching.conditional(
            request,
            etag=etag,
            cache_control=caching.LIBRARY_CACHE,
            build=lambda: (
                s.LibraryListSerializer({"language": query["language"], "count": len(items), "results": items}).data
            ),
        )


class LibraryDetailView(APIView):
    @extend_schema(
        parameters=[s.LanguageQuerySerializer, caching.IF_NONE_MATCH, *caching.CACHE_HEADERS],
        responses={200: s.LibraryItemSerializer, 304: caching.NOT_MODIFIED},
        tags=["library"],
        summary="One library item",
        operation_id="library_item",
    )
    def get(self, request, slug: str):
        query = caching.query_params(s.LanguageQuerySerializer, request)
        item = selectors.library_item_get(slug=slug, language=query["language"])
        return caching.conditional(
            request,
            etag=caching.etag("item", caching.fingerprint([item])),
            cache_control=caching.LIBRARY_CACHE,
            build=lambda: s.LibraryItemSerializer(item).data,
        )


class RedFlagChecklistView(APIView):
    @extend_schema(
        parameters=[caching.IF_NONE_MATCH, *caching.CACHE_HEADERS],
        responses={
            200: s.RedFlagChecklistSerializer,
            304: caching.NOT_MODIFIED,
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
        return caching.conditional(
            request,
            etag=caching.etag("red-flags", ruleset.pk, ruleset.version),
            cache_control=caching.LIBRARY_CACHE,
            build=lambda: s.RedFlagChecklistSerializer(ruleset).data,
        )
