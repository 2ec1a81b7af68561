"""History, learn (offline too), settings with the care team, and the physiotherapist who sees the
patient's new check-in on the timeline. Screenshots of each screen."""

import csv
import io
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from backcare.accounts.models import Profile
from content.services import library_load
from recovery.care.models import CareLink, CareNote
from recovery.care.services import care_invite_create, care_invite_redeem
from recovery.episodes.models import CheckIn
from recovery.treatment.models import Application
from tests.browser.conftest import DESKTOP, sign_in, wait_worker
from tests.factories import CheckInFactory, EpisodeFactory, PhysioFactory


def history_for(user):
    """Three days of check-ins and an ice application, so the chart has something to draw."""
    now = timezone.now()
    episode = EpisodeFactory(patient=user, onset=now - timedelta(days=2, hours=3))
    for days_ago, pains in ((2, (8, 7)), (1, (6, 5)), (0, (4,))):
        for pain in pains:
            CheckInFactory(episode=episode, pain=pain, occurred_at=now - timedelta(days=days_ago, minutes=pain))
    Application.objects.create(
        patient=user,
        episode=episode,
        client_uuid=uuid.uuid4(),
        kind="ice",
        started_at=now - timedelta(hours=3),
        stopped_at=now - timedelta(hours=3) + timedelta(minutes=20),
    )
    return episode


def test_history_learn_settings(page, live_server, shot, patient_user):
    library_load()
    history_for(patient_user)
    base = live_server.url
    sign_in(page, base, patient_user.email)
    wait_worker(page)

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Pain per day")).to_be_visible()
    expect(page.locator(".chart canvas")).to_have_count(1)
    expect(page.locator("section[aria-labelledby=apps-h] li")).to_contain_text("Ice")
    shot(page, "20-history")
    page.locator("#apps-h").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(page, "21-history-lists")

    page.get_by_role("link", name="Learn").click()
    expect(page.get_by_role("heading", name="Learn")).to_be_visible()
    shot(page, "22-learn")
    first = page.locator("a.item").first
    title = first.locator("strong").inner_text()
    first.click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    shot(page, "23-learn-article")

    # Readable offline: the list and the article come from IndexedDB.
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    page.get_by_role("link", name="Back to Learn").click()
    expect(page.get_by_text("Offline: the articles saved on this phone.")).to_be_visible()
    page.context.set_offline(False)

    # Settings: the detected time zone, the sleep window, the care team.
    Profile.objects.filter(user=patient_user).update(timezone="UTC")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    shot(page, "24-settings")
    page.get_by_role("button", name="Use Europe/Berlin (this phone)").click()
    expect(page.locator("#zone")).to_have_text("Europe/Berlin")
    page.get_by_label("Sleep from").fill("22:30")
    page.get_by_label("Wake at").fill("06:45")
    page.get_by_role("button", name="Save sleep window").click()
    expect(page.locator("#toast")).to_have_text("Sleep window saved.")
    profile = Profile.objects.get(user=patient_user)
    assert profile.timezone == "Europe/Berlin"
    assert profile.sleep_start.strftime("%H:%M") == "22:30" and profile.sleep_end.strftime("%H:%M") == "06:45"

    physio = PhysioFactory(display_name="Dr Rowe")
    code = care_invite_create(physiotherapist=physio).code
    page.get_by_label("Invitation code from your physiotherapist").fill(code.lower())
    page.get_by_role("button", name="Share my data with them").click()
    expect(page.locator("#care-links")).to_contain_text("Dr Rowe")
    assert CareLink.objects.filter(patient=patient_user, physiotherapist=physio, status="active").exists()
    page.locator("#care-h").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(page, "25-settings-care")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop sharing with Dr Rowe").click()
    expect(page.locator("#care-links")).to_contain_text("You share your data with nobody.")
    assert not CareLink.objects.filter(patient=patient_user, status="active").exists()
    assert page.js_errors == []


def test_physiotherapist_sees_new_checkin(context_factory, live_server, shot, patient_user, physio_user):
    base = live_server.url
    history_for(patient_user)
    code = care_invite_create(physiotherapist=physio_user).code

    # The patient links to the physiotherapist and logs a check-in with a note.
    phone = context_factory().new_page()
    sign_in(phone, base, patient_user.email)
    phone.goto(f"{base}/#/settings")
    phone.get_by_label("Invitation code from your physiotherapist").fill(code)
    phone.get_by_role("button", name="Share my data with them").click()
    expect(phone.locator("#care-links")).to_contain_text("Dr Rowe")
    phone.get_by_role("link", name="Check-in", exact=True).click()
    phone.get_by_label("3: Uncomfortable").check(force=True)
    phone.get_by_text("More details (optional)").click()
    phone.get_by_label("Anything else").fill("Walked to the shop")
    phone.get_by_role("button", name="Save check-in").click()
    expect(phone.get_by_role("heading", name="Check-in saved")).to_be_visible()
    assert CheckIn.objects.filter(patient=patient_user, note="Walked to the shop").count() == 1

    desk = context_factory(viewport=DESKTOP).new_page()
    sign_in(desk, base, physio_user.email)
    expect(desk.get_by_role("heading", name="Patients")).to_be_visible()
    row = desk.locator("tbody tr").filter(has=desk.get_by_role("link", name=patient_user.display_name, exact=True))
    expect(row).to_contain_text("3")
    shot(desk, "40-physio-triage")
    row.get_by_role("link", name=patient_user.display_name).click()
    expect(desk.get_by_role("heading", name=patient_user.display_name)).to_be_visible()
    expect(desk.locator("#timeline")).to_contain_text('Check-in: pain 3 - "Walked to the shop"')
    expect(desk.locator(".chart canvas")).to_have_count(1)
    shot(desk, "41-physio-patient")

    desk.get_by_label("Add a note").fill("Good progress; keep walking.")
    desk.get_by_role("button", name="Save note").click()
    expect(desk.locator("#notes")).to_contain_text("Good progress; keep walking.")
    assert CareNote.objects.filter(patient=patient_user, author=physio_user).count() == 1
    desk.get_by_label("Ice on (min)").fill("15")
    desk.get_by_role("button", name="Prescribe").click()
    expect(desk.locator("#toast")).to_contain_text("Prescription saved")
    desk.get_by_role("button", name="Mark reviewed").click()
    expect(desk.locator("#reviewed-at")).not_to_have_text("never")
    desk.locator("#rx-h").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(desk, "42-physio-notes-prescription")

    desk.get_by_role("link", name="Settings").click()
    desk.get_by_role("button", name="Create an invitation code").click()
    expect(desk.locator("#invite-code")).to_contain_text(re.compile(r"^[A-Z0-9]{5}-[A-Z0-9]{5} "))
    shot(desk, "44-physio-settings-invite")

    # The same screens at phone width stay usable.
    desk.set_viewport_size({"width": 360, "height": 640})
    desk.goto(f"{base}/#/triage")
    expect(desk.get_by_role("heading", name="Patients")).to_be_visible()
    shot(desk, "43-physio-triage-phone")


def test_downloads_from_settings_and_the_patient_page(context_factory, live_server, patient_user, physio_user):
    """The export links work from the app: the session cookie authenticates them, and what arrives is the
    patient's own data (JSON, CSV with zeros kept, FHIR) or, for the physiotherapist, the linked patient's."""
    episode = history_for(patient_user)
    CheckInFactory(episode=episode, pain=0, occurred_at=timezone.now() - timedelta(minutes=1))
    care_invite_redeem(patient=patient_user, code=care_invite_create(physiotherapist=physio_user).code)
    base = live_server.url

    def download(page, name: str) -> str:
        with page.expect_download() as info:
            page.get_by_role("link", name=name).click()
        return Path(info.value.path()).read_text()

    phone = context_factory(accept_downloads=True).new_page()
    sign_in(phone, base, patient_user.email)
    phone.get_by_role("link", name="Settings").click()
    everything = json.loads(download(phone, "All my data (JSON)"))
    assert everything["account"]["email"] == patient_user.email
    rows = list(csv.DictReader(io.StringIO(download(phone, "My timeline (CSV, for a spreadsheet)"))))
    pains = [r for r in rows if r.get("kind") == "checkin"]
    assert "0" in {r.get("pain") for r in pains}  # a zero stays a zero
    bundle = json.loads(download(phone, "My episode for a clinic system (FHIR)"))
    assert bundle["resourceType"] == "Bundle"

    desk = context_factory(viewport=DESKTOP, accept_downloads=True).new_page()
    sign_in(desk, base, physio_user.email)
    desk.get_by_role("link", name=patient_user.display_name, exact=True).click()
    expect(desk.get_by_role("heading", name=patient_user.display_name)).to_be_visible()
    bundle = json.loads(download(desk, "Episode (FHIR)"))
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert {o["valueInteger"] for o in observations} >= {0, 4}
    assert list(csv.DictReader(io.StringIO(download(desk, "Timeline (CSV)"))))
