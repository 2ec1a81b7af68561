"""Acting from a notification in Chromium: a push delivered to the service worker through the DevTools protocol,
its buttons pressed (Start now, It's off) by a NotificationEvent dispatched in the worker, a refusal shown in a
notification that replaces the reminder, and the plain-tap path (what Firefox and Safari users get) opening the
app's reminder screen and acting from there; axe on that screen."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recovery.episodes.services import episode_open
from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload
from recovery.treatment.models import Application
from recovery.treatment.services import application_put
from tests.browser.conftest import PASSWORD, sign_in, wait_worker
from tests.browser.test_accessibility import violations
from tests.browser.test_pwa import TAP


@pytest.fixture(autouse=True)
def _app_left_idle(page):
    """These tests leave the app on a running timer, which keeps talking to the live server; the database is
    flushed right after the test, and a request still in a transaction then deadlocks with the flush. Leave the
    app first and let the live server finish what it was answering."""
    yield
    page.goto("about:blank")
    page.wait_for_load_state()
    time.sleep(0.5)  # teardown hygiene only: no assertion depends on it


def until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Pusher:
    """Delivers payloads to the page's service worker as a push service would."""

    def __init__(self, page, base: str) -> None:
        self.page, self.base = page, base
        self.cdp = page.context.new_cdp_session(page)
        registrations: list = []
        self.cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
        self.cdp.send("ServiceWorker.enable")
        deadline = time.monotonic() + 10
        while not registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        self.registration = next(r["registrationId"] for r in registrations if r["scopeURL"] == f"{base}/")
        self.worker = page.context.service_workers[0]

    def push(self, payload: dict) -> None:
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.base, "registrationId": self.registration, "data": json.dumps(payload)},
        )

    def shown(self) -> list[dict]:
        return self.page.evaluate(
            """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list => list.map(n => ({
                 tag: n.tag, title: n.title, body: n.body, actions: n.actions.map(a => a.action)})))"""
        )

    def wait_shown(self, check) -> list[dict]:
        deadline = time.monotonic() + 10
        shown: list[dict] = []
        while time.monotonic() < deadline:
            shown = self.shown()
            if check(shown):
                return shown
            self.page.wait_for_timeout(100)
        return shown

    def tap(self, tag: str, action: str = "") -> None:
        assert self.worker.evaluate(TAP, [tag, action]), f"no notification {tag} to tap"


def start_setup(page, live_server, patient_user, onset_ago=timedelta(minutes=5)):
    base = live_server.url
    now = timezone.now()
    episode_open(patient=patient_user, onset=now - onset_ago, trigger="lifting")
    reminder = Reminder.objects.get(patient=patient_user, slot="ice_start:onset:0")
    page.context.grant_permissions(["notifications"], origin=base)
    sign_in(page, base, patient_user.email)
    wait_worker(page)
    return base, reminder, Pusher(page, base)


def test_start_now_and_its_off_buttons_from_a_delivered_push(page, live_server, patient_user):
    base, reminder, pusher = start_setup(page, live_server, patient_user)
    pusher.push(reminder_payload(reminder))
    shown = pusher.wait_shown(lambda s: len(s) == 1)
    assert shown[0]["actions"] == ["start", "snooze"] and shown[0]["title"] == "Put the ice on (20 min)"

    pusher.tap(reminder.slot, "start")
    assert until(lambda: Application.objects.filter(patient=patient_user, stopped_at__isnull=True).exists())
    app = Application.objects.get(patient=patient_user)
    remove = Reminder.objects.get(patient=patient_user, slot=f"ice_remove:{app.client_uuid}")
    assert remove.status == "scheduled" and remove.due_at == app.started_at + timedelta(minutes=20)

    # Its remove reminder, delivered; "It's off" stops the application at the tap.
    pusher.push(reminder_payload(remove))
    shown = pusher.wait_shown(lambda s: any(n["tag"] == remove.slot for n in s))
    assert next(n for n in shown if n["tag"] == remove.slot)["actions"] == ["stop"]
    pusher.tap(remove.slot, "stop")
    assert until(lambda: Application.objects.get(pk=app.pk).stopped_at is not None)
    remove.refresh_from_db()
    assert remove.status == "cancelled" and remove.ack_action == "stop"
    assert Application.objects.filter(patient=patient_user).count() == 1


def test_a_refused_start_replaces_the_reminder_with_the_reason(page, live_server, patient_user):
    base, reminder, pusher = start_setup(page, live_server, patient_user)
    # Delivered late: the token's freshness window is over by the time of the tap.
    Reminder.objects.filter(pk=reminder.pk).update(due_at=timezone.now() - timedelta(hours=1))
    reminder.refresh_from_db()
    pusher.push(reminder_payload(reminder))
    pusher.wait_shown(lambda s: len(s) == 1)
    pusher.tap(reminder.slot, "start")
    shown = pusher.wait_shown(lambda s: len(s) == 1 and s[0]["title"] == "backcare")
    assert len(shown) == 1 and shown[0]["tag"] == reminder.slot  # replaced, not stacked
    assert "too old" in shown[0]["body"] and shown[0]["actions"] == []
    assert not Application.objects.filter(patient=patient_user).exists()


def test_a_plain_tap_opens_the_reminder_screen_which_acts_and_passes_axe(page, live_server, patient_user):
    base, reminder, pusher = start_setup(page, live_server, patient_user)
    payload = reminder_payload(reminder)
    assert payload["url"] == f"/#/reminder/{reminder.pk}"
    pusher.push(payload)
    pusher.wait_shown(lambda s: len(s) == 1)
    pusher.tap(reminder.slot, "")
    expect(page.get_by_role("heading", name="Put the ice on (20 min)")).to_be_visible()
    assert page.url.endswith(f"/#/reminder/{reminder.pk}")
    assert violations(page) == []

    page.get_by_role("button", name="Start now").click()
    expect(page.locator("#main [data-reminder-state]")).to_contain_text("Started")
    assert Application.objects.filter(patient=patient_user, stopped_at__isnull=True).count() == 1
    assert violations(page) == []

    # Opened again (a second tap): it says plainly that it is done, and offers nothing.
    page.goto(f"{base}/#/today")
    page.goto(f"{base}/#/reminder/{reminder.pk}")
    expect(page.locator("#main [data-reminder-state]")).to_contain_text("Already done")
    expect(page.get_by_role("button", name="Start now")).to_have_count(0)

    # A remove reminder's screen offers "It's off", never snooze or skip.
    app = Application.objects.get(patient=patient_user)
    remove = Reminder.objects.get(patient=patient_user, slot=f"ice_remove:{app.client_uuid}")
    page.goto(f"{base}/#/reminder/{remove.pk}")
    expect(page.get_by_role("heading", name="Take the ice off now")).to_be_visible()
    expect(page.get_by_role("button", name="Skip")).to_have_count(0)
    page.get_by_role("button", name="It's off").click()
    expect(page.locator("#main [data-reminder-state]")).to_contain_text("Stopped")
    assert Application.objects.get(pk=app.pk).stopped_at is not None


def test_a_started_offline_application_says_the_server_reminds_only_once_online(page, live_server, patient_user):
    base, reminder, pusher = start_setup(page, live_server, patient_user)
    page.goto(f"{base}/#/today")
    expect(page.get_by_role("button", name="Start ice (20 min)")).to_be_visible()
    page.context.set_offline(True)
    page.get_by_role("button", name="Start ice (20 min)").click()
    expect(page.locator("[data-offline-start]")).to_contain_text("cannot remind you")
    page.context.set_offline(False)


def test_the_open_app_sounds_and_vibrates_when_the_application_ends(page, live_server, patient_user):
    base, reminder, pusher = start_setup(page, live_server, patient_user, onset_ago=timedelta(minutes=25))
    # Spy on the phone's vibration and count the beeps' oscillators.
    page.add_init_script(
        """window.__vibrations = []; navigator.vibrate = (p) => { window.__vibrations.push(p); return true; };
           window.__tones = 0; const Real = window.AudioContext;
           if (Real) { const make = Real.prototype.createOscillator;
             Real.prototype.createOscillator = function () { window.__tones += 1; return make.call(this); }; }"""
    )
    application_put(
        patient=patient_user,
        client_uuid=uuid.uuid4(),
        kind="ice",
        started_at=timezone.now() - timedelta(minutes=19, seconds=57),
    )
    page.goto(f"{base}/#/today")
    page.reload()
    expect(page.get_by_role("timer")).to_be_visible()
    # Polled from here: the app's CSP refuses wait_for_function's string evaluation.
    for _ in range(150):
        if page.evaluate("window.__vibrations.length") > 0:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__vibrations.length") == 1  # once, not every tick
    assert page.evaluate("window.__tones") == 3


def test_a_tapped_reminder_survives_signing_in(page, live_server, patient_user):
    base = live_server.url
    episode_open(patient=patient_user, onset=timezone.now() - timedelta(minutes=5), trigger="lifting")
    reminder = Reminder.objects.get(patient=patient_user, slot="ice_start:onset:0")
    page.goto(f"{base}/#/reminder/{reminder.pk}")
    page.get_by_label("Email").fill(patient_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Put the ice on (20 min)")).to_be_visible()
    assert page.url.endswith(f"/#/reminder/{reminder.pk}")
