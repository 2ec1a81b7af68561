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


def test_seed_demo_refuses_where_not_allowed(settings):
    from django.core.management.base import CommandError

    settings.BACKCARE_SEED_DEMO_ALLOWED = False
    with pytest.raises(CommandError, match="published password"):
        call_command("seed_demo")
    assert not User.objects.filter(email__endswith="@demo.backcare.local").exists()


def test_seed_demo_refuses_with_the_production_settings():
    """The real production settings module, in a process of its own (as `manage.py seed_demo` would run)."""
    import os
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    from backcare.push.vapid import generate_private_key, private_key_to_pem

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backcare.settings.production",
        "DJANGO_SECRET_KEY": "p" * 10 + "roduction-like-secret-key-for-this-test-only-0123456789",
        "DJANGO_ALLOWED_HOSTS": "backcare.example",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        "BACKCARE_VAPID_PRIVATE_KEY": private_key_to_pem(generate_private_key()).decode(),
    }
    done = subprocess.run(  # noqa: S603 (this interpreter and the project's manage.py)
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "seed_demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "published password" in done.stderr and "backcare.settings.production" in done.stderr
    assert not User.objects.filter(email__endswith="@demo.backcare.local").exists()
