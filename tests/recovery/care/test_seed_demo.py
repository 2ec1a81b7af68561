import pytest
from django.core.management import call_command

from backcare.accounts.models import User
from recovery.care.models import CareLink
from recovery.episodes.models import CheckIn, Episode
from recovery.reminders.models import Reminder
from recovery.treatment.models import Application, MedicationIntake

pytestmark = pytest.mark.django_db


def test_the_demo_patient_is_linked_to_the_demo_physiotherapist_once():
    call_command("seed_demo")
    call_command("seed_demo")
    link = CareLink.objects.get()
    assert link.patient == User.objects.get(email="patient@demo.backcare.local")
    assert link.physiotherapist == User.objects.get(email="physio@demo.backcare.local")
    assert link.status == CareLink.Status.ACTIVE and link.invite.used_by == link.patient
    CareLink.objects.filter(pk=link.pk).update(status="revoked", ended_at=link.consented_at)
    call_command("seed_demo")
    assert CareLink.objects.filter(status="active").count() == 0


def test_the_demo_patient_has_a_living_episode_once():
    call_command("seed_demo")
    call_command("seed_demo")
    patient = User.objects.get(email="patient@demo.backcare.local")
    episode = Episode.objects.get(patient=patient)
    assert episode.status == "open"
    assert [c.pain for c in CheckIn.objects.filter(patient=patient).order_by("occurred_at")] == [7, 6, 5]
    assert Application.objects.filter(patient=patient, kind="ice", stopped_at__isnull=False).count() == 2
    assert MedicationIntake.objects.filter(patient=patient).count() == 1
    assert Reminder.objects.filter(episode=episode, status="scheduled").exists()  # planned like any episode
    Episode.objects.filter(pk=episode.pk).update(status="resolved", resolved_at=episode.onset)
    call_command("seed_demo")  # a patient with any episode, even resolved, gets no new history
    assert Episode.objects.filter(patient=patient).count() == 1
