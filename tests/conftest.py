import uuid
from datetime import timedelta

import factory
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backcare.accounts.models import Profile, Role, User
from content.services import redflag_rules_load
from recovery.models import CheckIn, Episode
from recovery.treatment_services import protocol_version_load

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    display_name = factory.Faker("first_name")
    role = Role.PATIENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def with_profile(obj, create, extracted, **kwargs):
        obj.save()
        if create:
            Profile.objects.get_or_create(user=obj, defaults={"timezone": extracted or "UTC"})


class PhysioFactory(UserFactory):
    role = Role.PHYSIOTHERAPIST


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    patient = factory.SubFactory(UserFactory)
    onset = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    trigger = "lifting"


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    episode = factory.SubFactory(EpisodeFactory)
    patient = factory.SelfAttribute("episode.patient")
    client_uuid = factory.LazyFunction(uuid.uuid4)
    occurred_at = factory.LazyFunction(timezone.now)
    pain = 5
    payload_hash = "factory"


@pytest.fixture(autouse=True)
def _content_loaded(request):
    """Transactional tests flush the tables, data migrations included: load the checklist again."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    request.getfixturevalue("transactional_db" if transactional else "db")
    redflag_rules_load()
    protocol_version_load()


@pytest.fixture
def patient(db):
    return UserFactory()


@pytest.fixture
def other_patient(db):
    return UserFactory()


@pytest.fixture
def physio(db):
    return PhysioFactory()


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    return client_for(None)


@pytest.fixture
def patient_api(patient):
    return client_for(patient)


@pytest.fixture
def other_api(other_patient):
    return client_for(other_patient)


@pytest.fixture
def physio_api(physio):
    return client_for(physio)


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient)
