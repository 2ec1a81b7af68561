"""Issue 13 in the browser: the emergency pause (banner, instruction, resume after confirming help) and the
physiotherapist's red-flag alert (a plain tap on its push opens it; Acknowledge; who and when), with axe on
the new and changed screens."""

import json
import time
import uuid
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from recovery.care.services import care_invite_create, care_invite_redeem
from recovery.episodes.models import Episode
from recovery.episodes.services import checkin_put, episode_open
from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload
from recovery.triage.models import ClinicianAlert
from tests.browser.conftest import DESKTOP, sign_in, wait_worker
from tests.browser.test_accessibility import violations
from tests.browser.test_pwa import TAP


def emergency_answered(patient):
    episode_open(patient=patient, onset=timezone.now() - timedelta(hours=4), trigger="lifting")
    checkin_put(patient=patient, client_uuid=uuid.uuid4(), data={"pain": 9, "red_flags": {"bowel_bladder_loss": True}})


def test_emergency_pause_and_resume(page, live_server, patient_user, shot):
    emergency_answered(patient_user)
    base = live_server.url
    sign_in(page, base, patient_user.email)

    banner = page.locator("#paused-banner")
    expect(banner).to_contain_text("Your plan is paused")
    assert violations(page) == []
    banner.get_by_role("link", name="What to do now").click()

    expect(page.get_by_role("heading", name="Get emergency help now")).to_be_visible()
    expect(page.get_by_role("heading", name="Your self-care plan is paused")).to_be_visible()
    resume = page.get_by_role("button", name="Resume plan")
    expect(resume).to_be_disabled()
    expect(page.get_by_role("button", name="End the plan")).to_be_disabled()
    shot(page, "emergency-paused")
    assert violations(page) == []

    page.get_by_label("I got help: a doctor or emergency service has seen me").check()
    resume.click()

    expect(page.get_by_role("heading", name="Day 1")).to_be_visible()
    expect(page.locator("#paused-banner")).to_have_count(0)
    assert Episode.objects.get().paused_since is None
    assert page.js_errors == []


def test_end_the_plan_from_the_emergency_screen(page, live_server, patient_user):
    emergency_answered(patient_user)
    base = live_server.url
    sign_in(page, base, patient_user.email)
    page.goto(f"{base}/#/emergency")
    page.get_by_label("I got help: a doctor or emergency service has seen me").check()
    page.get_by_role("button", name="End the plan").click()
    expect(page.locator("main[data-screen=today]")).to_be_visible()
    assert Episode.objects.get().status == "resolved"


def test_physiotherapist_opens_and_acknowledges_the_alert(
    context_factory, live_server, patient_user, physio_user, shot
):
    care_invite_redeem(patient=patient_user, code=care_invite_create(physiotherapist=physio_user).code)
    emergency_answered(patient_user)
    alert = ClinicianAlert.objects.get()
    base = live_server.url
    desk = context_factory(viewport=DESKTOP).new_page()
    desk.context.grant_permissions(["notifications"], origin=base)
    errors = []
    desk.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(desk, base, physio_user.email)
    wait_worker(desk)

    # Settings: the same notifications control as a patient's.
    desk.get_by_role("link", name="Settings", exact=True).click()
    expect(desk.get_by_role("button", name="Turn on notifications")).to_be_visible()
    assert violations(desk) == []

    # The alert's push, delivered to the worker; a plain tap opens the alerts at the top of the queue.
    row = Reminder.objects.filter(kind="clinician_alert", recipient=physio_user).order_by("due_at").first()
    payload = reminder_payload(row)
    cdp = desk.context.new_cdp_session(desk)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        desk.wait_for_timeout(100)
    registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == f"{base}/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration_id, "data": json.dumps(payload)},
    )
    worker = desk.context.service_workers[0]
    assert worker.evaluate(TAP, [row.slot, ""]), "the alert's push showed no notification"
    alerts = desk.locator("#alerts")
    expect(alerts).to_contain_text("Red-flag alerts: 1 open")
    assert desk.url.endswith("/#/alerts")
    expect(alerts).to_contain_text(patient_user.display_name)
    shot(desk, "physio-alert-open")
    assert violations(desk) == []

    alerts.get_by_role("button", name=f"Acknowledge the alert for {patient_user.display_name}").click()

    expect(alerts).to_contain_text(f"Acknowledged by {physio_user.display_name}")
    alert.refresh_from_db()
    assert alert.acknowledged_by == physio_user
    assert not Reminder.objects.filter(kind="clinician_alert", status="scheduled").exists()
    shot(desk, "physio-alert-acknowledged")
    assert violations(desk) == []
    assert errors == []
