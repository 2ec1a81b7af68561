"""A patient's day in the browser: sign up, open an episode, ice on and off, check-ins online and
offline (each stored once), and the emergency screen."""

import re

from playwright.sync_api import expect

from backcare.accounts.models import User
from content.services import library_load
from recovery.episodes.models import CheckIn, Episode
from recovery.treatment.models import Application
from tests.browser.conftest import sign_in, wait_worker
from tests.factories import EpisodeFactory


def test_signup_episode_ice_checkin_emergency_offline(page, live_server, shot, transactional_db):
    base = live_server.url
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-signin")

    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Your name (optional)").fill("Sam")
    page.get_by_label("Email").fill("sam@example.test")
    page.get_by_label("Password").fill("a-long-enough-passphrase")
    shot(page, "02-signup")
    page.get_by_role("button", name="Create account").click()

    # No episode yet: the form to start one.
    expect(page.get_by_role("heading", name="Start your plan")).to_be_visible()
    user = User.objects.get(email="sam@example.test")
    assert user.profile.timezone == "Europe/Berlin"  # detected from the browser
    shot(page, "03-start-plan")
    page.get_by_label("What set it off?").select_option("lifting")
    page.get_by_role("button", name="Start my plan").click()

    expect(page.get_by_role("heading", name="Day 1")).to_be_visible()
    assert Episode.objects.filter(patient=user, status="open").count() == 1
    expect(page.get_by_text("Ice phase")).to_be_visible()
    shot(page, "04-today-idle")

    # Ice on: the countdown runs; ice off: stored with its stop.
    page.get_by_role("button", name=re.compile(r"Start ice")).click()
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(20:00|19:5\d)$"))
    expect(page.get_by_role("heading", name="Ice on")).to_be_visible()
    shot(page, "05-today-ice-on")
    page.get_by_role("button", name="Stop ice").click()
    expect(page.get_by_role("heading", name="Skin rest")).to_be_visible()
    shot(page, "06-today-pausing")
    app = Application.objects.get(patient=user)
    assert app.kind == "ice" and app.stopped_at is not None

    # An ordinary check-in.
    wait_worker(page)
    page.get_by_role("link", name="Check-in", exact=True).click()
    expect(page.get_by_role("heading", name="How is your back?")).to_be_visible()
    page.get_by_label("6: Hard to ignore").check(force=True)
    expect(page.locator("#pain-word")).to_have_text("6: Hard to ignore")
    shot(page, "07-checkin")
    page.get_by_text("More details (optional)").click()
    page.get_by_label("Glasses of water today").fill("5")
    shot(page, "08-checkin-details")
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_role("heading", name="Check-in saved")).to_be_visible()
    shot(page, "09-checkin-saved")
    first = CheckIn.objects.get(patient=user)
    assert first.pain == 6 and first.water_glasses == 5

    # An emergency answer: the full-screen instruction appears at once, before saving.
    page.get_by_role("link", name="Check-in", exact=True).click()
    page.get_by_label("3: Uncomfortable").check(force=True)
    page.get_by_label(re.compile("lost control of your bladder")).check()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Get emergency help now")).to_be_visible()
    shot(page, "10-emergency")
    dialog.get_by_role("button", name="I understand").click()
    expect(dialog).to_be_hidden()
    page.get_by_label(re.compile("lost control of your bladder")).uncheck()

    # Offline: the check-in waits in IndexedDB and is sent once the connection is back.
    page.context.set_offline(True)
    page.reload()  # the shell comes from the service worker's cache
    expect(page.get_by_role("heading", name="How is your back?")).to_be_visible()
    expect(page.locator("#net")).to_contain_text("Offline")
    page.get_by_label("2: Mild").check(force=True)
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_role("heading", name="Saved on this phone")).to_be_visible()
    expect(page.locator("#net")).to_contain_text("1 waiting to send")
    shot(page, "11-checkin-offline")
    assert CheckIn.objects.filter(patient=user).count() == 1

    # The emergency screen needs no network either.
    page.get_by_role("link", name="Check-in", exact=True).click()
    page.get_by_label(re.compile("numbness or a pins-and-needles")).check()
    expect(page.get_by_role("alertdialog").get_by_role("heading", name="Get emergency help now")).to_be_visible()
    page.get_by_role("button", name="I understand").click()

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#net")).to_have_text("", timeout=10_000)
    assert CheckIn.objects.filter(patient=user).count() == 2
    assert CheckIn.objects.filter(patient=user, pain=2).count() == 1

    # Reloading (app start flushes the outbox again) never stores it twice.
    page.reload()
    page.wait_for_selector("body[data-ready]")
    page.wait_for_timeout(500)
    assert CheckIn.objects.filter(patient=user, pain=2).count() == 1
    assert page.js_errors == []


def test_ice_offline_is_sent_once_with_its_stop(page, live_server, patient_user):
    EpisodeFactory(patient=patient_user)
    sign_in(page, live_server.url, patient_user.email)
    expect(page.get_by_role("button", name=re.compile(r"Start ice"))).to_be_visible()
    wait_worker(page)

    page.context.set_offline(True)
    page.get_by_role("button", name=re.compile(r"Start ice")).click()
    expect(page.get_by_role("heading", name="Ice on")).to_be_visible()
    expect(page.get_by_text("Saved on this phone; it will be sent when you are online.")).to_be_visible()
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(20:00|19:5\d)$"))
    page.get_by_role("button", name="Stop ice").click()
    expect(page.locator("#net")).to_contain_text("2 waiting to send")
    assert Application.objects.filter(patient=patient_user).count() == 0

    page.context.set_offline(False)
    page.reload()  # app start sends the outbox
    expect(page.get_by_role("heading", name="Skin rest")).to_be_visible()
    expect(page.locator("#net")).to_have_text("")
    app = Application.objects.get(patient=patient_user)
    assert app.kind == "ice" and app.stopped_at is not None


def test_every_control_has_a_label(page, live_server, patient_user):
    """Each screen's inputs, selects, textareas and buttons have an accessible name."""
    library_load()
    EpisodeFactory(patient=patient_user)
    sign_in(page, live_server.url, patient_user.email)
    unnamed = """() => [...document.querySelectorAll('main input, main select, main textarea, main button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
        .map(el => el.outerHTML.slice(0, 80))"""
    for screen, heading in [
        # The episode began 2 hours ago: from local midnight to 02:00 that is day 2, so any day will do.
        ("today", re.compile(r"^Day \d+$")),
        ("checkin", "How is your back?"),
        ("history", "History"),
        ("learn", "Learn"),
        ("settings", "Settings"),
    ]:
        page.goto(f"{live_server.url}/#/{screen}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_timeout(200)
        assert page.evaluate(unnamed) == [], screen

    # The check-in works with the keyboard alone: arrows pick the pain, Enter saves.
    page.goto(f"{live_server.url}/#/checkin")
    page.get_by_label("0: No pain").focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#pain-word")).to_have_text("4: Moderate")
    page.get_by_role("button", name="Save check-in").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check-in saved")).to_be_visible()
    assert CheckIn.objects.get(patient=patient_user).pain == 4
