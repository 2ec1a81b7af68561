"""DRF throttles keyed on the one client address (backcare.core.net), counted in the shared cache.

The counters live in Django's default cache: Redis whenever REDIS_URL is set, so every web process
and thread counts together (a per-process count multiplies every limit by the number of workers).
Rates are read when a request is checked, not when the class is imported, so settings can change them.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings

from backcare.core.net import client_address


class _LiveRates:
    def get_rate(self):
        if not getattr(self, "scope", None):
            return None
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_address(request)


class ScopedRateThrottle(_LiveRates, throttling.ScopedRateThrottle):
    """The view's `throttle_scope`, per signed-in user or else per client address."""

    def allow_request(self, request, view):
        # DRF's ScopedRateThrottle reads the rate in allow_request through THROTTLE_RATES; read it live.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return throttling.SimpleRateThrottle.allow_request(self, request, view)


class WriteRateThrottle(_LiveRates, throttling.UserRateThrottle):
    """Writes (any method but GET, HEAD, OPTIONS) per signed-in user: one account cannot load the
    database for everyone. Reads, and requests nobody is signed in for, are not counted here."""

    scope = "write"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS") or not request.user.is_authenticated:
            return True
        return super().allow_request(request, view)


class SyncRateThrottle(_LiveRates, throttling.UserRateThrottle):
    """Offline batches per signed-in user (each may hold up to 200 writes)."""

    scope = "sync"
