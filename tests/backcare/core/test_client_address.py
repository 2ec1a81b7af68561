"""The one client address (backcare/core/net.py) and the per-account write and sync limits."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from backcare.core.net import client_address, trusted_proxies_parse
from tests.conftest import client_for
from tests.factories import UserFactory


def _address(settings, trusted: str, forwarded: str | None, peer: str = "127.0.0.1") -> str:
    settings.BACKCARE_TRUSTED_PROXIES = trusted
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


@pytest.mark.parametrize(
    ("trusted", "forwarded", "peer", "expected"),
    [
        ("", None, "127.0.0.1", "127.0.0.1"),
        ("", "127.9.9.9", "127.0.0.1", "127.0.0.1"),  # no proxy: the header is the client's word, ignored
        ("0", "127.9.9.9", "127.0.0.5", "127.0.0.5"),
        ("1", "127.0.0.7", "127.0.0.1", "127.0.0.7"),
        ("1", "127.9.9.9, 127.0.0.7", "127.0.0.1", "127.0.0.7"),  # the client's own entry comes first: ignored
        ("2", "127.9.9.9, 127.0.0.7, 127.0.0.2", "127.0.0.1", "127.0.0.7"),
        ("1", None, "127.0.0.1", "127.0.0.1"),  # a request that did not come through the proxy
        ("1", "not-an-address", "127.0.0.1", "127.0.0.1"),  # garbage: keep the last hop we trust
        ("127.0.0.1", "127.9.9.9, 127.0.0.7", "127.0.0.1", "127.0.0.7"),
        ("127.0.0.0/30", "127.9.9.9, 127.0.0.7, 127.0.0.2", "127.0.0.1", "127.0.0.7"),
        ("127.0.0.1", "127.0.0.7", "127.0.0.5", "127.0.0.5"),  # the peer is not our proxy: its header is not ours
        ("::1", "127.0.0.7", "::1", "127.0.0.7"),
        ("", None, "::ffff:127.0.0.3", "127.0.0.3"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(settings, trusted, forwarded, peer, expected):
    assert _address(settings, trusted, forwarded, peer) == expected


def test_a_bad_trusted_proxies_setting_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="BACKCARE_TRUSTED_PROXIES"):
        trusted_proxies_parse("proxy.example")


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


@pytest.mark.django_db
def test_writes_are_limited_per_account_and_reads_are_not(settings):
    _rates(settings, write="3/min")
    one, two = client_for(UserFactory(with_profile="Europe/Berlin")), client_for(UserFactory())
    codes = [one.patch("/api/me/profile/", {"timezone": "Europe/Berlin"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert one.get("/api/me/profile/").status_code == 200  # reads are not writes
    assert two.patch("/api/me/profile/", {"timezone": "Europe/Berlin"}).status_code == 200  # another account


@pytest.mark.django_db
def test_offline_batches_are_limited_per_account(settings):
    _rates(settings, sync="2/min")
    one, two = client_for(UserFactory()), client_for(UserFactory())
    batch = {"items": [{"kind": "checkin", "id": "not-a-uuid", "data": {}}]}
    assert [one.post("/api/sync/", batch).status_code for _ in range(3)] == [200, 200, 429]
    assert two.post("/api/sync/", batch).status_code == 200
