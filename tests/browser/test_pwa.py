"""Installable and offline: the manifest as Chromium parses it, the service worker, the offline page,
and a push delivered to the worker through the DevTools protocol (no push service involved)."""

import json
import struct
import time
import uuid

from django.utils import timezone
from playwright.sync_api import expect

from recovery.reminders.models import Reminder
from recovery.reminders.payloads import reminder_payload
from tests.browser.conftest import sign_in, wait_worker
from tests.factories import EpisodeFactory

# A synthetic tap (or button press, with an action) on the notification with this tag, once the worker
# shows it: a push is handled asynchronously, and a redelivery replaces the notification. Waiting from
# the page would not do: wait_for_function takes a returned Promise for a truthy answer at once.
TAP = """async ([tag, action]) => {
  for (let i = 0; i < 100; i++) {
    const [n] = await self.registration.getNotifications({tag});
    if (n) {
      try { self.dispatchEvent(new NotificationEvent("notificationclick", {notification: n, action})); }
      catch (e) { /* waitUntil refuses an untrusted event; the handler's work has started by then */ }
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}"""


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", body[16:24])


def test_manifest_and_service_worker(page, live_server, shot):
    base = live_server.url
    page.goto(f"{base}/")
    wait_worker(page)

    response = page.request.get(f"{base}/manifest.webmanifest")
    assert response.headers["content-type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/")
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"] and manifest["background_color"]
    sizes = {}
    for icon in manifest["icons"]:
        body = page.request.get(f"{base}{icon['src']}").body()
        width, height = png_size(body)
        assert icon["sizes"] == f"{width}x{height}"
        sizes.setdefault(icon["purpose"], set()).add(width)
    assert {192, 512} <= sizes["any"] and 512 in sizes["maskable"]

    # Chromium's own reading of it: no parse errors, nothing that stops installation.
    cdp = page.context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["errors"] == [], parsed["errors"]
    assert parsed["url"] == f"{base}/manifest.webmanifest"
    installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito profiles, which Chromium never offers to install from.
    assert [e for e in installability if e["errorId"] != "in-incognito"] == []

    worker = page.request.get(f"{base}/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    registration = page.evaluate(
        "navigator.serviceWorker.getRegistration().then(r => ({scope: r.scope, script: r.active.scriptURL}))"
    )
    assert registration == {"scope": f"{base}/", "script": f"{base}/sw.js"}

    # Offline: the shell still opens; any other page gets the offline page.
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{base}/admin/")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    shot(page, "30-offline-page")
    page.context.set_offline(False)


def test_push_shows_notification_and_a_tap_opens_its_screen(page, live_server, patient_user):
    base = live_server.url
    episode = EpisodeFactory(patient=patient_user)
    reminder = Reminder.objects.create(
        patient=patient_user,
        episode=episode,
        kind="checkin",
        slot=f"checkin:{uuid.uuid4().hex[:8]}",
        due_at=timezone.now(),
    )
    payload = reminder_payload(reminder)
    page.context.grant_permissions(["notifications"], origin=base)
    sign_in(page, base, patient_user.email)
    wait_worker(page)

    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == f"{base}/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration_id, "data": json.dumps(payload)},
    )

    shown = []
    deadline = time.monotonic() + 10
    while not shown and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        shown = page.evaluate(
            """navigator.serviceWorker.ready
                 .then(r => r.getNotifications())
                 .then(list => list.map(n => ({tag: n.tag, title: n.title, actions: n.actions.map(a => a.action),
                                                data: n.data})))"""
        )
    assert len(shown) == 1
    assert shown[0]["tag"] == reminder.slot
    assert shown[0]["title"] == payload["title"]
    # A check-in opens its screen: no button.
    assert shown[0]["actions"] == []
    assert shown[0]["data"]["ack_token"] == payload["ack_token"]
    assert shown[0]["data"]["url"] == "/#/checkin"

    # The same push again (a redelivery) replaces the notification: still one with that tag.
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration_id, "data": json.dumps(payload)},
    )
    page.wait_for_timeout(500)
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.getNotifications()).then(l => l.length)") == 1
    worker = page.context.service_workers[0]

    # A tap on the notification itself opens the reminder's screen (a check-in reminder: the check-in).
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration_id, "data": json.dumps(payload)},
    )
    assert worker.evaluate(TAP, [reminder.slot, ""]), "the redelivered push showed no notification"
    expect(page.get_by_role("heading", name="How is your back?")).to_be_visible()
    assert page.url.endswith("/#/checkin")

    # A tap that lands while the app is still loading the session (a reopened tab, say) is not lost:
    # the worker puts the screen in the URL and the app routes only once it knows who is signed in.
    held = []
    page.route("**/api/me/", lambda route: held.append(route))
    page.reload(wait_until="commit")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the app never asked for the session"
    worker.evaluate("() => openScreen('#/history')")
    held[0].continue_()
    page.unroute("**/api/me/")
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible()
    assert page.url.endswith("/#/history")
