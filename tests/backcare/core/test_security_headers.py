"""Every HTML page answers a strict Content-Security-Policy, Referrer-Policy and Permissions-Policy, and
carries nothing its policy would refuse (inline script, event-handler or style attributes)."""

from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

STRICT_PAGES = ["/", "/offline/", "/admin/login/", "/no-such-page/"]
DOCS_PAGES = ["/api/docs/", "/api/redoc/"]


class _Inline(HTMLParser):
    """Collects what a policy without 'unsafe-inline' refuses."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in attrs and attrs.get("type") not in ("application/json", "importmap"):
            self._in_script = True

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")


def _inline(html: str, *, styles: bool) -> list[str]:
    parser = _Inline()
    parser.feed(html)
    return [item for item in parser.found if styles or "style" not in item]


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", STRICT_PAGES + DOCS_PAGES)
@pytest.mark.parametrize("debug", [False, True])
def test_every_html_page_has_the_headers(path, debug, settings):
    settings.DEBUG = debug
    response = Client().get(path)
    assert response.status_code in (200, 404), path
    assert response["Content-Type"].startswith("text/html")
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == "'self'"  # never inline script, on any page
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["default-src"] == "'self'"
    if path in STRICT_PAGES:
        assert csp["style-src"] == "'self'"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", STRICT_PAGES)
def test_strict_pages_carry_nothing_inline(path):
    html = Client().get(path).content.decode()
    assert _inline(html, styles=True) == []


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_pages_carry_no_inline_script(path):
    html = Client().get(path).content.decode()
    assert _inline(html, styles=False) == []


def test_the_swagger_settings_script_is_served_from_this_origin():
    response = Client().get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")


def test_api_answers_carry_the_policy_too(patient):
    response = Client().get("/api/me/")
    assert "Content-Security-Policy" in response and response["Referrer-Policy"] == "same-origin"


def test_the_docs_policy_is_only_relaxed_where_it_must_be():
    strict, docs = _directives(settings.BACKCARE_CSP), _directives(settings.BACKCARE_CSP_DOCS)
    relaxed = {k for k in docs if docs[k] != strict.get(k)}
    assert relaxed == {"style-src", "img-src", "worker-src"}
