"""Answering a questionnaire in the app (the PEG), online and offline, stored once; a deployment with no licence
file lists only the PEG; the physiotherapist sees the score and its trend on the patient page."""

import re

from playwright.sync_api import expect

from recovery.care.models import CareLink
from recovery.outcomes.models import QuestionnaireResponse
from tests.browser.conftest import DESKTOP, sign_in, wait_worker
from tests.factories import EpisodeFactory
from tests.recovery.outcomes.conftest import write_licensed


def answer_peg(page, pain: int, enjoyment: int, activity: int):
    for item, value in (("pain", pain), ("enjoyment", enjoyment), ("activity", activity)):
        page.locator(f"#item-{item}-{value}").check(force=True)
    page.get_by_role("button", name="Save answers").click()


def test_answering_the_peg_in_the_app_online_and_offline(page, live_server, shot, patient_user, settings):
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = None
    EpisodeFactory(patient=patient_user)
    sign_in(page, live_server.url, patient_user.email)
    wait_worker(page)

    # Today offers what is due: the PEG of this week.
    card = page.locator("#questionnaire-due")
    expect(card).to_contain_text("Due now: PEG.")
    card.get_by_role("link", name="Answer now").click()
    expect(page.get_by_role("heading", name="PEG")).to_be_visible()
    expect(page.get_by_text("What number best describes your pain on average in the past week?")).to_be_visible()
    shot(page, "40-questionnaire-peg")

    # Too few answers: said on the screen, nothing sent.
    page.locator("#item-pain-7").check(force=True)
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Please answer every question (1 answered).")
    assert QuestionnaireResponse.objects.count() == 0

    answer_peg(page, 7, 6, 4)
    expect(page.get_by_role("heading", name="Answers saved")).to_be_visible()
    shot(page, "41-questionnaire-saved")
    row = QuestionnaireResponse.objects.get(patient=patient_user)
    assert (str(row.score), row.scoring_rule, row.questionnaire.version) == ("5.67", "mean@1", 1)

    # Offline: the answers wait on the phone and are stored once when the connection is back.
    page.context.set_offline(True)
    page.reload()  # still on #/questionnaire/peg; the shell comes from the service worker's cache
    expect(page.get_by_role("heading", name="PEG")).to_be_visible()
    answer_peg(page, 3, 3, 3)
    expect(page.get_by_role("heading", name="Saved on this phone")).to_be_visible()
    expect(page.locator("#net")).to_contain_text("1 waiting to send")
    assert QuestionnaireResponse.objects.count() == 1
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#net")).to_have_text("", timeout=10_000)
    assert QuestionnaireResponse.objects.filter(patient=patient_user).count() == 2
    page.reload()
    page.wait_for_selector("body[data-ready]")
    page.wait_for_timeout(500)
    assert QuestionnaireResponse.objects.filter(patient=patient_user).count() == 2
    assert page.js_errors == []


def test_without_a_licence_file_the_app_lists_only_the_peg(page, live_server, patient_user, settings, tmp_path):
    EpisodeFactory(patient=patient_user)
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = None
    sign_in(page, live_server.url, patient_user.email)
    page.goto(f"{live_server.url}/#/questionnaire")
    expect(page.get_by_role("heading", name="Questionnaires")).to_be_visible()
    expect(page.locator("#questionnaires li")).to_have_count(1)
    expect(page.locator("#questionnaires")).to_contain_text("PEG")

    # The same app where the deployment holds the licences (test wording of our own).
    settings.BACKCARE_QUESTIONNAIRE_LICENSED_DIR = str(write_licensed(tmp_path))
    page.reload()
    expect(page.locator("#questionnaires li")).to_have_count(3)
    expect(page.locator("#questionnaires")).to_contain_text("Test screening form")
    assert page.js_errors == []


def test_the_physiotherapist_sees_scores_and_trend(context_factory, live_server, shot, patient_user, physio_user):
    from datetime import timedelta

    from django.utils import timezone

    from recovery.outcomes.models import QuestionnaireVersion

    episode = EpisodeFactory(patient=patient_user, onset=timezone.now() - timedelta(days=8))
    CareLink.objects.create(patient=patient_user, physiotherapist=physio_user, consented_at=timezone.now())
    peg = QuestionnaireVersion.objects.get(code="peg")
    for days_ago, score in ((7, "3.00"), (0, "6.33")):
        QuestionnaireResponse.objects.create(
            patient=patient_user, episode=episode, questionnaire=peg, client_uuid=__import__("uuid").uuid4(),
            occurred_at=timezone.now() - timedelta(days=days_ago), answers={}, score=score, scoring_rule="mean@1",
            answered=3, payload_hash="h",
        )  # fmt: skip
    page = context_factory(viewport=DESKTOP).new_page()
    sign_in(page, live_server.url, physio_user.email)
    # The queue: a worsening PEG is a signal, and the queue can show only such patients.
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    page.locator("#triage-reason").select_option("startback_high,peg_worsening")
    expect(page.locator("table.triage")).to_contain_text("PEG worsening")
    expect(page.locator("table.triage tbody tr")).to_have_count(1)
    page.goto(f"{live_server.url}/#/patient/{patient_user.pk}")
    outcomes = page.locator("#outcomes")
    expect(outcomes).to_contain_text("PEG: 6.33")
    expect(outcomes).to_contain_text(re.compile("worse than before"))
    expect(page.locator("#timeline [data-kind=questionnaire]").first).to_contain_text("Questionnaire peg: 6.33")
    shot(page, "42-physio-outcomes")
