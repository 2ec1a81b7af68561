"""Every HTML page works in Chromium under its Content-Security-Policy: nothing it needs is refused."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import csp_watch


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/offline/", "h1"),
        ("/admin/login/", "#login-form"),
        ("/api/docs/", ".swagger-ui .info .title"),  # Swagger UI drew the schema
        ("/api/redoc/", "h1:has-text('backcare API')"),  # Redoc drew the schema
    ],
)
def test_each_page_renders_with_nothing_refused(context_factory, live_server, transactional_db, path, shown):
    page = context_factory().new_page()
    refused = csp_watch(page)
    response = page.goto(f"{live_server.url}{path}")
    assert response.headers["content-security-policy"]
    expect(page.locator(shown).first).to_be_visible(
        timeout=60_000
    )  # the schema is generated on first request: slow on a busy machine
    page.wait_for_timeout(300)
    # Redoc fetches its "powered by" logo from its CDN: refused, as anything from another origin is (and in
    # tests no request may leave this machine). Nothing the page needs is among the refusals.
    refused = [text for text in refused if "https://cdn.redoc.ly/" not in text]
    assert refused == [], refused
