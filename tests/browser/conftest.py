"""Browser tests: Debian's Chromium (headless) driven by Playwright against pytest-django's live server.

The live server serves the static files too (StaticFilesHandler), on http://localhost:<port>, a secure
context, so the service worker registers. Screenshots go to var/screenshots/ (git-ignored).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, PhysioFactory, UserFactory

CHROMIUM = Path(os.environ.get("BACKCARE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}

# Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are still plain
# synchronous code, so Django's guard against ORM calls from async code does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# CI machines are small and busy (the rest of the suite, a Celery worker): give assertions time,
# the way actions already have it (the context's default timeout).
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def context_factory(browser):
    contexts = []

    def make(viewport=PHONE, **kwargs):
        context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/Berlin", **kwargs)
        context.set_default_timeout(10_000)
        if os.environ.get("BACKCARE_TEST_CLOCK"):
            # The server's clock was moved (tests/conftest.py): the browser's follows, or "today" differs.
            context.clock.install(time=datetime.now(UTC))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def csp_watch(page) -> list[str]:
    """What the Content-Security-Policy refused on this page (Chromium reports each refusal on the console)."""
    refused: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and refused.append(msg.text))
    return refused


@pytest.fixture
def page(context_factory, live_server):
    page = context_factory().new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Shown by pytest when a test fails.
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: print(f"pageerror: {exc}"))
    page.js_errors = errors
    refused = csp_watch(page)
    yield page
    # The app runs under its strict policy: nothing it does may be refused (a refused style or script is a broken screen).
    assert refused == [], refused


@pytest.fixture
def shot():
    """shot(page, "name"): what the screen shows (the viewport) in var/screenshots/name.png.

    Viewport, not full page: that is what the patient sees, fixed bars included; a full-page capture
    also resizes the viewport under the page for a moment, which can swallow the next click."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.wait_for_timeout(150)  # let the last frame paint (fonts, chart)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture
def patient_user(transactional_db):
    return UserFactory(email="pat@example.test", display_name="Pat")


@pytest.fixture
def physio_user(transactional_db):
    return PhysioFactory(email="physio@example.test", display_name="Dr Rowe")


def sign_in(page, base_url: str, email: str, password: str = PASSWORD):
    page.goto(f"{base_url}/#/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready] main:not([data-screen=signin])")


def wait_worker(page):
    """Until the service worker controls the page (the precache is in place then)."""
    # Polled through page.evaluate (the DevTools protocol): wait_for_function evaluates its predicate as a string
    # inside the page, which the app's Content-Security-Policy (no 'unsafe-eval') refuses.
    for _ in range(150):
        if page.evaluate("() => Boolean(navigator.serviceWorker && navigator.serviceWorker.controller)"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the service worker did not take control of the page within 15 s")
