import pytest
from django.core.management import call_command

from backcare.accounts.models import User
from recovery.models import CareLink

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
