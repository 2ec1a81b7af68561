import re
import uuid

from django.conf import settings
from django.http import JsonResponse


class RequestBodyLimitMiddleware:
    """Refuse bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes, the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    """Give every request the server's own id (a new UUID) and answer it in X-Request-ID.

    The caller's X-Request-ID, if it is sane, is kept beside it as `client_request_id`: the access log
    records both, so a row can be matched with the client's, the proxy's and the server's logs, and no
    client can choose (or repeat) the id the log is keyed by.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = uuid.uuid4().hex
        request.client_request_id = given if _REQUEST_ID.fullmatch(given) else ""
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ApiNotFoundMiddleware:
    """Under /api/, a 404 is JSON whatever DEBUG says.

    handler404 (backcare.core.api.not_found) answers JSON only with DEBUG off: with DEBUG on, Django renders
    its HTML debug page for a URL no route matches (e.g. /api/devices//), which API clients cannot read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse({"detail": "Not found."}, status=404)
        return response


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (Referrer-Policy: SecurityMiddleware).

    The app, the offline page and the admin run under BACKCARE_CSP: scripts and styles from this origin only,
    nothing inline, no plugins, not framed. The API docs (Swagger UI, Redoc) are third-party pages that
    put styles inline and draw with data: images and a blob: worker: they get BACKCARE_CSP_DOCS, still with
    no inline script and nothing from another origin.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        docs = any(request.path.startswith(prefix) for prefix in settings.BACKCARE_CSP_DOCS_PATHS)
        response.setdefault("Content-Security-Policy", settings.BACKCARE_CSP_DOCS if docs else settings.BACKCARE_CSP)
        response.setdefault("Permissions-Policy", settings.BACKCARE_PERMISSIONS_POLICY)
        return response
