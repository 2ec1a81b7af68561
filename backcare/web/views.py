"""The web app's shell, manifest, service worker and offline page.

Every page here is the same for every user (no personal data), so the service worker may cache it.
The app itself routes with the URL hash (#/today, #/checkin, ...): one cached document serves all
screens offline.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

WEB_DIR = Path(__file__).resolve().parent
STATIC_WEB = WEB_DIR / "static" / "web"
SW_SOURCE = WEB_DIR / "sw" / "sw.js"
TEMPLATES = WEB_DIR / "templates" / "web"

NAME = "backcare"
THEME_COLOR = "#0b5e59"
BACKGROUND_COLOR = "#f6f7f5"
# Pages the service worker keeps for offline use, besides every file under static/web/.
SHELL_PAGES = ["/", "/offline/", "/manifest.webmanifest"]


def _static(path: str) -> str:
    # Unhashed names on purpose: the worker's cache is versioned by the content hash below instead.
    return f"{settings.STATIC_URL}web/{path}"


def _web_files() -> list[Path]:
    return sorted(p for p in STATIC_WEB.rglob("*") if p.is_file() and not p.name.endswith(".txt"))


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [*_web_files(), SW_SOURCE, *sorted(TEMPLATES.iterdir())]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_fingerprint_cached = lru_cache(maxsize=1)(_fingerprint)


def version() -> str:
    """Changes whenever a file of the app changes; a new version makes browsers install the new worker."""
    return _fingerprint() if settings.DEBUG else _fingerprint_cached()


def _context() -> dict:
    return {"static_web": f"{settings.STATIC_URL}web/", "theme_color": THEME_COLOR, "version": version()}


@require_GET
@ensure_csrf_cookie
def index(request):
    return render(request, "web/index.html", _context())


@require_GET
def offline(request):
    return render(request, "web/offline.html", _context())


@require_GET
@ensure_csrf_cookie
@cache_control(no_store=True)
def csrf(request):
    """Sets the csrftoken cookie when the shell came from the worker's cache and never set it."""
    return HttpResponse(status=204)


@require_GET
def manifest(request):
    icons = [
        {"src": _static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": _static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {
            "src": _static("icons/icon-maskable-192.png"),
            "sizes": "192x192",
            "type": "image/png",
            "purpose": "maskable",
        },
        {
            "src": _static("icons/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    data = {
        "id": "/",
        "name": "backcare: back spasm self-care",
        "short_name": NAME,
        "description": "Step-by-step self-care for an acute lower-back muscle spasm: ice and heat timer, "
        "daily check-in, warning signs.",
        "lang": "en",
        "start_url": "/#/today",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "categories": ["health", "medical"],
        "icons": icons,
    }
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def service_worker(request):
    """The worker, from the root so that its scope is the whole app. no-cache: updates are seen at once."""
    precache = SHELL_PAGES + [_static(p.relative_to(STATIC_WEB).as_posix()) for p in _web_files()]
    header = f"const VERSION = {json.dumps(version())};\nconst PRECACHE = {json.dumps(precache, indent=2)};\n\n"
    response = HttpResponse(header + SW_SOURCE.read_text(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
