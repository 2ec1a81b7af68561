"""The checks /healthz runs besides the database and the broker.

Each app registers its own in its AppConfig.ready() (core: the beat heartbeat; recovery: the outbox lag), so
the platform never imports the apps built on it. A check reads the database: it runs only while the database
answers, and an exception it raises is reported as {"ok": False, "error": <the exception's class name>}.
"""

from collections.abc import Callable

HealthCheck = Callable[[], dict]

# In registration order, which is the order of INSTALLED_APPS: the order of the keys in /healthz's "checks".
_checks: dict[str, HealthCheck] = {}


def health_check_register(*, name: str, check: HealthCheck) -> None:
    """Run `check` for /healthz under `name`; it returns a dict with at least "ok". A name registered again
    is replaced (ready() may run more than once in tests)."""
    _checks[name] = check


def health_checks_run(*, database_ok: bool) -> dict[str, dict]:
    results = {}
    for name, check in _checks.items():
        if not database_ok:
            results[name] = {"ok": False, "error": "database down"}
            continue
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            results[name] = {"ok": False, "error": exc.__class__.__name__}
    return results
