"""The wrapped apps' stand-ins (FCM, APNs) and the in-process Celery worker of the delivery tests."""

from tests.recovery.reminders.test_delivery_worker import purged_queue, worker  # noqa: F401 - fixtures
from tests.support.native_fixtures import apns, fcm  # noqa: F401 - fixtures
