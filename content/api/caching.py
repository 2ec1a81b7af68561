"""Conditional GET for the library's answers, here and in recovery's guidance view (GET library/for-me/).

Every answer carries an ETag and Cache-Control so the phone can keep the library offline and ask
cheaply whether it changed: a matching If-None-Match gets 304 with no body. The tag is computed from
the items' versions before anything is serialized.
"""

import hashlib
import json

from django.http import HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.response import Response

# Bump when the shape of the answers changes, so cached copies are not reused across it.
API_REVISION = 1
# The library changes rarely: a day fresh, then the phone asks again with If-None-Match.
LIBRARY_CACHE = "private, max-age=86400"

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


def etag(*parts) -> str:
    """A strong tag over the API revision and `parts` (anything json can write, str() for the rest)."""
    digest = hashlib.sha256(json.dumps([API_REVISION, *parts], default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


def fingerprint(items) -> list:
    return [(item.pk, item.version) for item in items]


def not_modified(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    tags = {tag.removeprefix("W/") for tag in parse_etags(header)}
    return "*" in tags or etag in tags


def conditional(request, *, etag: str, cache_control: str, build):
    """304 if the caller holds `etag`, else 200 with `build()`; both with the ETag and Cache-Control."""
    response = HttpResponseNotModified() if not_modified(request, etag) else Response(build())
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response


def query_params(serializer_class, request) -> dict:
    """The query parameters validated by `serializer_class` (a 400 names the parameter)."""
    # A plain dict: DRF reads a QueryDict like a form and would take "?tag=" as "no tag" (the schema says 400).
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data
