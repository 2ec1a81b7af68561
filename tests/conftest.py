import pytest
from rest_framework.test import APIClient

from backcare.accounts.models import User
from content.services import redflag_rules_load
from recovery.outcomes.services import questionnaire_versions_load
from recovery.treatment.services import protocol_version_load
from tests.factories import PASSWORD, EpisodeFactory, PhysioFactory, UserFactory  # noqa: F401


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
    questionnaire_versions_load()


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
