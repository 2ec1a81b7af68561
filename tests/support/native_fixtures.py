"""pytest fixtures: the FCM and APNs stand-ins, with the sender configured for them.

Import them into a test module (``from tests.support.native_fixtures import apns, fcm``). Each fixture
points the settings at its stand-in and adds its certificate to BACKCARE_PUSH_CA_BUNDLE (a bundle holding
every stand-in's certificate in use, so the WebPush receiver's stays trusted too).
"""

import json
import uuid

import pytest

from backcare.push.transports import transport_for
from tests.support.apns_service import ApnsService
from tests.support.fcm_service import FcmService


def trust(settings, tmp_path, ca_file: str) -> None:
    """Add a certificate to the sender's CA bundle."""
    bundle = tmp_path / f"ca-{uuid.uuid4().hex[:8]}.pem"
    current = settings.BACKCARE_PUSH_CA_BUNDLE
    text = open(current).read() if current else ""  # noqa: SIM115, PTH123 - small files, read once
    bundle.write_text(text + open(ca_file).read())  # noqa: SIM115, PTH123
    settings.BACKCARE_PUSH_CA_BUNDLE = str(bundle)


def fcm_env(service: FcmService) -> dict[str, str]:
    """The environment variables that point a worker process at the stand-in."""
    return {
        "BACKCARE_FCM_CREDENTIALS": json.dumps(service.service_account_info()),
        "BACKCARE_FCM_SEND_URL": service.send_url,
    }


def apns_env(service: ApnsService) -> dict[str, str]:
    return {
        "BACKCARE_APNS_KEY": service.p8,
        "BACKCARE_APNS_KEY_ID": service.key_id,
        "BACKCARE_APNS_TEAM_ID": service.team_id,
        "BACKCARE_APNS_TOPIC": service.topic,
        "BACKCARE_APNS_HOST": service.host,
    }


@pytest.fixture
def fcm(settings, tmp_path):
    """A running FCM stand-in; the settings hold its service account, send URL and certificate."""
    with FcmService() as service:
        for name, value in fcm_env(service).items():
            setattr(settings, name, value)
        trust(settings, tmp_path, service.ca_file)
        transport_for("fcm").reset()
        yield service
        transport_for("fcm").reset()


@pytest.fixture
def apns(settings, tmp_path):
    """A running APNs stand-in (HTTP/2, TLS); the settings hold its key, ids, topic, host and certificate."""
    with ApnsService() as service:
        for name, value in apns_env(service).items():
            setattr(settings, name, value)
        trust(settings, tmp_path, service.ca_file)
        transport_for("apns").reset()
        yield service
        transport_for("apns").reset()


@pytest.fixture
def native_on(settings):
    """FCM and APNs switched on with credentials that are never used: for tests that only register and list
    devices (nothing is sent; a test that sends uses the `fcm` and `apns` stand-ins)."""
    settings.BACKCARE_FCM_CREDENTIALS = '{"client_email": "unused@example.test", "note": "never used"}'
    settings.BACKCARE_APNS_KEY = "-----BEGIN PRIVATE KEY----- never used"
