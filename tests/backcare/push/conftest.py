"""The FCM and APNs stand-ins' fixtures (tests/support/native_fixtures.py) for the push tests."""

from tests.support.native_fixtures import apns, fcm, native_on  # noqa: F401 - fixtures
