"""A plan that ends, in Chromium: the feeling-better card, ending the plan with its confirmation (a running ice
application's remove reminder still comes), a new episode, History listing the old one, the heat reminders a
day in Settings; axe on each new screen."""

import uuid
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from backcare.accounts.models import Profile
from recovery.episodes.models import Episode
from recovery.reminders.models import Reminder
from recovery.treatment.models import Application
from tests.browser.conftest import sign_in, wait_worker
from tests.browser.test_accessibility import violations
from tests.factories import CheckInFactory, EpisodeFactory


def good_days_for(user) -> Episode:
    """An episode whose last two (UTC) days have only low pain: the app offers ending the plan."""
    now = timezone.now()
    episode = EpisodeFactory(patient=user, onset=now - timedelta(days=4))
    for days_ago, pain in ((3, 6), (1, 2), (0, 1)):
        CheckInFactory(episode=episode, pain=pain, occurred_at=now - timedelta(days=days_ago, minutes=1))
    return episode


def test_feeling_better_end_the_plan_start_again_and_history_keeps_the_old_one(page, live_server, patient_user, shot):
    old = good_days_for(patient_user)
    ice = Application.objects.create(
        patient=patient_user, episode=old, client_uuid=uuid.uuid4(), kind="ice", started_at=timezone.now()
    )
    base = live_server.url
    sign_in(page, base, patient_user.email)
    wait_worker(page)
    card = page.locator("#feeling-better")
    expect(card.get_by_role("heading", name="Feeling better? End the plan")).to_be_visible()
    card.scroll_into_view_if_needed()
    shot(page, "60-feeling-better")
    assert violations(page) == [], "today with the feeling-better card"

    card.get_by_role("button", name="End the plan").click()
    expect(card.get_by_text("End your plan now?")).to_be_visible()
    expect(card.get_by_text("Your ice is still on: the reminder to take it off still comes.")).to_be_visible()
    shot(page, "61-end-the-plan-confirm")
    assert violations(page) == [], "the confirmation"
    card.get_by_role("button", name="Keep my plan").click()  # changing one's mind changes nothing
    expect(card.get_by_role("button", name="End the plan")).to_be_visible()
    old.refresh_from_db()
    assert old.status == "open"

    card.get_by_role("button", name="End the plan").click()
    card.get_by_role("button", name="Yes, end my plan").click()
    expect(page.get_by_role("heading", name="Start your plan")).to_be_visible()
    old.refresh_from_db()
    assert old.status == "resolved"
    active = Reminder.objects.filter(episode=old, status__in=("scheduled", "claimed"))
    assert [r.slot for r in active] == [f"ice_remove:{ice.client_uuid}"]

    page.get_by_role("button", name="Start my plan").click()
    expect(page.get_by_role("heading", name="Day 1")).to_be_visible()
    new = Episode.objects.get(patient=patient_user, status="open")

    page.get_by_role("link", name="History", exact=True).click()
    episodes = page.locator("section[aria-labelledby=episodes-h]")
    expect(episodes.get_by_role("heading", name="Your episodes")).to_be_visible()
    expect(episodes.locator("li")).to_have_count(2)
    expect(episodes.get_by_text("Current plan")).to_be_visible()
    episodes.scroll_into_view_if_needed()
    shot(page, "62-history-episodes")
    assert violations(page) == [], "history with episodes"
    episodes.get_by_role("link", name="Ended plan").click()
    expect(page).to_have_url(f"{base}/#/history/{old.id}")
    checkins = page.locator("section[aria-labelledby=ci-h] li")
    expect(checkins).to_have_count(3)
    expect(checkins.first).to_contain_text("Pain 1")
    assert new.checkins.count() == 0


def test_plan_screen_reviews_and_ending_from_it(page, live_server, patient_user):
    now = timezone.now()
    episode = EpisodeFactory(patient=patient_user, onset=now - timedelta(days=6, minutes=1))  # day 7 (UTC)
    CheckInFactory(episode=episode, pain=5, occurred_at=now - timedelta(days=1))
    base = live_server.url
    sign_in(page, base, patient_user.email)
    expect(page.get_by_role("heading", name="Day 7 review")).to_be_visible()
    assert violations(page) == [], "today on a review day"
    page.get_by_role("link", name="Look at your progress").click()
    expect(page.get_by_role("heading", name="Your plan")).to_be_visible()
    expect(page.get_by_role("heading", name="Day 7 review")).to_be_visible()
    assert violations(page) == [], "the plan screen"
    page.get_by_role("button", name="End the plan").click()
    page.get_by_role("button", name="Yes, end my plan").click()
    expect(page.get_by_role("heading", name="Start your plan")).to_be_visible()
    page.goto(f"{base}/#/plan")
    expect(page.get_by_text("No plan is running.")).to_be_visible()
    assert violations(page) == [], "the plan screen without a plan"


def test_heat_reminders_a_day_from_settings(page, live_server, patient_user):
    EpisodeFactory(patient=patient_user)
    sign_in(page, live_server.url, patient_user.email)
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_label("Heat reminders").select_option("3")
    expect(page.locator("#toast")).to_have_text("Heat reminders saved.")
    assert Profile.objects.get(user=patient_user).heat_reminders_per_day == 3
    assert violations(page) == [], "settings"
    with page.expect_response(lambda r: r.url.endswith("/api/me/profile/") and r.request.method == "PATCH") as saved:
        page.get_by_label("Heat reminders").select_option("")
    assert saved.value.json()["heat_reminders_per_day"] is None
    assert Profile.objects.get(user=patient_user).heat_reminders_per_day is None


def test_day_14_not_improving_says_see_a_provider(page, live_server, patient_user):
    now = timezone.now()
    episode = EpisodeFactory(patient=patient_user, onset=now - timedelta(days=13, hours=1))
    for days_ago, pain in ((12, 5), (11, 5), (2, 6), (1, 6)):
        CheckInFactory(episode=episode, pain=pain, occurred_at=now - timedelta(days=days_ago))
    sign_in(page, live_server.url, patient_user.email)
    provider = page.locator("#see-provider")
    expect(provider.get_by_role("heading", name="See a doctor or physiotherapist")).to_be_visible()
    expect(page.locator("#feeling-better")).to_have_count(0)
    assert violations(page) == [], "today with see-a-provider"
