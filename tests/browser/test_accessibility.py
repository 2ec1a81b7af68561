"""Accessibility, checked by axe-core (the engine browsers' own audits use) on every screen: WCAG 2.x
A and AA rules, colour contrast included, at phone width for the patient and desktop width for the
physiotherapist. Any violation fails with its rule, impact and the offending elements."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from content.services import library_load
from recovery.care.services import care_invite_create, care_invite_redeem
from tests.browser.conftest import DESKTOP, sign_in, wait_worker

from .test_screens import history_for

AXE = Axe()
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


def violations(page) -> list[str]:
    page.wait_for_timeout(200)  # transitions and the last frame
    found = AXE.run(page, options=WCAG_AA).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in found
    ]


@pytest.fixture
def audited():
    """audited(page, screen): axe's findings per screen, reported together at the end."""
    findings: dict[str, list[str]] = {}

    def check(page, screen: str) -> None:
        findings[screen] = violations(page)

    yield check
    bad = {screen: found for screen, found in findings.items() if found}
    assert not bad, "\n".join(f"{screen}: {v}" for screen, found in bad.items() for v in found)


def test_patient_screens_meet_wcag_aa(page, live_server, patient_user, audited):
    library_load()
    history_for(patient_user)
    base = live_server.url
    page.goto(f"{base}/#/signin")
    expect(page.get_by_label("Email")).to_be_visible()
    audited(page, "sign in")
    page.goto(f"{base}/#/signup")
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    audited(page, "sign up")

    sign_in(page, base, patient_user.email)
    wait_worker(page)
    audited(page, "today")
    for link, heading in (
        ("Check-in", "How is your back?"),
        ("History", "Pain per day"),
        ("Learn", "Learn"),
        ("Settings", "Settings"),
    ):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        audited(page, link.lower())
    page.get_by_role("link", name="Learn", exact=True).click()
    page.locator("a.item").first.click()
    expect(page.get_by_role("link", name="Back to Learn")).to_be_visible()
    audited(page, "article")


def test_physiotherapist_screens_meet_wcag_aa(context_factory, live_server, patient_user, physio_user, audited):
    history_for(patient_user)
    care_invite_redeem(patient=patient_user, code=care_invite_create(physiotherapist=physio_user).code)
    base = live_server.url
    desk = context_factory(viewport=DESKTOP).new_page()
    sign_in(desk, base, physio_user.email)
    expect(desk.get_by_role("link", name=patient_user.display_name, exact=True)).to_be_visible()
    audited(desk, "triage")
    desk.get_by_role("link", name=patient_user.display_name, exact=True).click()
    expect(desk.get_by_role("heading", name=patient_user.display_name)).to_be_visible()
    audited(desk, "patient")
