import pytest
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import CareLinkFactory, PhysioFactory


@pytest.fixture
def link(patient, physio):
    return CareLinkFactory(patient=patient, physiotherapist=physio)


@pytest.fixture
def other_physio(db):
    return PhysioFactory(display_name="Other Physio")


@pytest.fixture
def other_physio_api(other_physio) -> APIClient:
    return client_for(other_physio)
