"""A shared phone: one browser, two patients. Each account's offline store and outbox are its own.

Patient A queues a check-in offline and the session ends without "Sign out" (cookies cleared). Patient B
signs in on the same browser and goes online: A's check-in is never posted as B, and B never sees A's
cached data. A's queue is kept for A: it is sent, as A, when A signs in there again.
"""

import re

from playwright.sync_api import expect
from push_notifications.models import WebPushDevice

from recovery.episodes.models import CheckIn
from tests.browser.conftest import sign_in, wait_worker
from tests.factories import EpisodeFactory, UserFactory

STORE = "/static/web/store.js"
OUTBOX = "/static/web/outbox.js"


def _idle(page, timeout_ms=10_000):
    """Until the outbox has nothing in flight (its sender holds the 'backcare-outbox' lock while it sends)."""
    for _ in range(timeout_ms // 100):
        held = page.evaluate("() => navigator.locks.query().then(s => s.held.length + s.pending.length)")
        if not held:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the outbox kept sending")


def test_a_queued_check_in_is_never_sent_as_the_next_person(page, live_server, transactional_db):
    base = live_server.url
    alice = UserFactory(email="alice@example.test", display_name="Alice Aardvark")
    bob = UserFactory(email="bob@example.test", display_name="Bob Bunting")
    EpisodeFactory(patient=alice)
    EpisodeFactory(patient=bob)

    sign_in(page, base, alice.email)
    wait_worker(page)
    page.goto(f"{base}/#/checkin")
    expect(page.get_by_role("heading", name="How is your back?")).to_be_visible()

    # Alice, offline, saves a check-in: it waits on the phone.
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="How is your back?")).to_be_visible()
    page.get_by_label("2: Mild").check(force=True)
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_role("heading", name="Saved on this phone")).to_be_visible()
    expect(page.locator("#net")).to_contain_text("1 waiting to send")
    # And a write whose body names no episode (as a medication intake's does not): the server would file it
    # under whoever is signed in when it arrives.
    page.evaluate(
        f"""() => import('{OUTBOX}').then(o => o.enqueue('checkin', crypto.randomUUID(),
              {{occurred_at: new Date().toISOString(), pain: 7, red_flags: {{}}}}))"""
    )
    expect(page.locator("#net")).to_contain_text("2 waiting to send")

    # Her session ends without "Sign out"; the phone comes back online; Bob signs in on it.
    page.context.clear_cookies()
    page.context.set_offline(False)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, base, bob.email)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    _idle(page)
    page.reload()  # app start flushes the outbox too
    page.wait_for_selector("body[data-ready]")
    _idle(page)

    assert not CheckIn.objects.filter(patient=bob).exists()  # never posted as Bob
    assert not CheckIn.objects.filter(patient=alice).exists()  # nor as Alice, without her session
    expect(page.locator("#net")).to_have_text("")  # Bob has nothing waiting

    # Bob never sees Alice's data: not online, not offline from the cache.
    for offline in (False, True):
        page.context.set_offline(offline)
        for screen in ("today", "history", "settings"):
            page.goto(f"{base}/#/{screen}")
            page.wait_for_selector(f"main[data-screen={screen}] h1")
            page.wait_for_timeout(300)
            text = page.locator("body").inner_text()
            assert "Alice" not in text and "alice@" not in text, (screen, offline)
        assert page.evaluate(f"() => import('{STORE}').then(s => s.kvGet('me')).then(me => me.id)") == bob.pk
    page.context.set_offline(False)

    # Alice's check-in was kept for her: when she signs in here again, it is sent as hers, once.
    page.context.clear_cookies()
    page.reload()
    sign_in(page, base, alice.email)
    _idle(page)
    expect(page.locator("#net")).to_have_text("", timeout=10_000)
    assert sorted(CheckIn.objects.filter(patient=alice).values_list("pain", flat=True)) == [2, 7]
    assert not CheckIn.objects.filter(patient=bob).exists()
    assert page.js_errors == []


# Stands in for the browser's push subscription (a real one would be made by a push service off this machine).
FAKE_SUBSCRIPTION = """
PushManager.prototype.getSubscription = async function () {
  if (localStorage.getItem("fake-unsubscribed")) return null;
  return {
    endpoint: "https://127.0.0.1:9/fake",
    toJSON() { return { endpoint: this.endpoint, keys: {} }; },
    unsubscribe: async () => { localStorage.setItem("fake-unsubscribed", "1"); return true; },
  };
};
"""


def test_sign_out_removes_the_device_and_ends_the_subscription(page, live_server, patient_user):
    base = live_server.url
    EpisodeFactory(patient=patient_user)
    page.add_init_script(FAKE_SUBSCRIPTION)
    device = WebPushDevice.objects.create(
        user=patient_user, registration_id="https://127.0.0.1:9/fake", p256dh="k", auth="a", browser="CHROME"
    )
    sign_in(page, base, patient_user.email)
    # As "Turn on notifications" leaves it: the device id in the account's store.
    page.evaluate(f"() => import('{STORE}').then(s => s.kvSet('push-device', 'webpush:{device.pk}'))")

    page.goto(f"{base}/#/settings")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    assert not WebPushDevice.objects.filter(pk=device.pk).exists()
    assert page.evaluate("() => localStorage.getItem('fake-unsubscribed')") == "1"
    # Nothing of the account stays on the phone: its database is gone.
    names = page.evaluate("() => indexedDB.databases().then(list => list.map(d => d.name))")
    assert not [name for name in names if re.fullmatch(r"backcare-u\d+", name)], names
