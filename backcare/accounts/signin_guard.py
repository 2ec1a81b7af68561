"""Failed sign-ins slow down guessing; nobody who does not know the password can keep an owner out.

Design (why not a hard lock): a lock that any failure renews lets anyone lock any account for ever by
sending one wrong password now and then. Instead:

- Progressive delay, never a lock. Each key (below) has a number of free failures; after those, each
  further failure makes the key wait before the next attempt: 1 s, 2 s, 4 s ... up to a cap (15 min).
  An attempt made while a key waits is refused with 429 and Retry-After *without* checking the password
  and *without* counting, so it neither renews nor lengthens the wait. Failures are forgotten a day after
  the last one; a success forgets the account's and the device's.
- Keys. An attempt from an unknown browser or app counts against the account (email) AND the client
  address (backcare.core.net.client_address: only trusted proxies' X-Forwarded-For entries count):
  the account key slows guessing spread over many addresses, the address key slows one address
  spraying many accounts.
- Known devices. A successful sign-in leaves a signed device cookie (HttpOnly, 180 days, scoped to this
  account). An attempt that presents it counts against that device only, never against the account or
  address: an attacker who keeps the account's key waiting (from anywhere) does not delay its owner on a
  phone they have signed in on before; a stolen cookie gets the same few free guesses and then waits.
  (The OWASP "device cookie" scheme.) A new device of the owner's can be delayed by such an attack, for at
  most the cap at a time.

The counters live in the default cache (Redis when REDIS_URL is set) so every process shares them.
"""

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext

from backcare.core.errors import TooMany

DEVICE_COOKIE = "backcare_signin_device"
DEVICE_COOKIE_AGE = timedelta(days=180)
_DEVICE_SALT = "backcare.accounts.signin-device"
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class SignInAttempt:
    email: str
    address: str
    device_cookie: str | None = None

    def email_key(self) -> str:
        return hashlib.sha256(self.email.strip().lower().encode()).hexdigest()[:32]

    def device(self) -> str | None:
        """The device id of a valid cookie issued to this account, else None."""
        if not self.device_cookie:
            return None
        try:
            value = signing.loads(self.device_cookie, salt=_DEVICE_SALT, max_age=DEVICE_COOKIE_AGE.total_seconds())
        except signing.BadSignature:
            return None
        if not isinstance(value, dict) or value.get("a") != self.email_key():
            return None
        device = value.get("d")
        return device if isinstance(device, str) else None

    def counted_keys(self) -> list[tuple[str, int]]:
        """(cache key, free failures) the attempt counts against."""
        device = self.device()
        if device is not None:
            return [(f"signin:device:{device}", settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_DEVICE)]
        return [
            (f"signin:account:{self.email_key()}", settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ACCOUNT),
            (f"signin:address:{self.address}", settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS),
        ]


def _now() -> float:
    return timezone.now().timestamp()


def signin_wait(*, attempt: SignInAttempt) -> None:
    """Raise TooMany (429, Retry-After) if any key of the attempt is waiting; the password is not checked then."""
    untils = cache.get_many([f"{key}:until" for key, _ in attempt.counted_keys()])
    latest = max(untils.values(), default=0.0)
    remaining = latest - _now()
    if remaining > 0:
        raise TooMany(
            gettext("Too many failed sign-in attempts. Try again later."),
            headers={"Retry-After": str(math.ceil(remaining))},
        )


def signin_failed(*, attempt: SignInAttempt) -> None:
    """Count a failure that checked the password; past the free ones, make each key wait (1 s, doubling, capped)."""
    cap = settings.BACKCARE_SIGNIN_DELAY_CAP.total_seconds()
    forget = int(FORGET_AFTER.total_seconds())
    for key, free in attempt.counted_keys():
        counter = f"{key}:failures"
        cache.add(counter, 0, timeout=forget)
        failures = cache.incr(counter)
        cache.touch(counter, timeout=forget)
        if failures > free:
            delay = min(2.0 ** min(failures - free - 1, 30), cap)
            # The expiry only tidies up; the stored instant decides (time-machine in tests moves it).
            cache.set(f"{key}:until", _now() + delay, timeout=int(delay) + 60)


def signin_succeeded(*, attempt: SignInAttempt) -> str:
    """Forget the failures the attempt counted against, except the address's (one account's right password
    must not clear an address that sprays others); a known device's success leaves the account's key as it is.
    Answers the device cookie to set (a new device id if none was valid)."""
    device = attempt.device()
    forgotten = [key for key, _ in attempt.counted_keys() if not key.startswith("signin:address:")]
    cache.delete_many([f"{key}:{part}" for key in forgotten for part in ("failures", "until")])
    return signing.dumps({"a": attempt.email_key(), "d": device or uuid.uuid4().hex}, salt=_DEVICE_SALT)


def device_cookie_set(response, *, value: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=int(DEVICE_COOKIE_AGE.total_seconds()),
        path="/api/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def signin_forget(*, email: str) -> None:
    """Drop an account's failure records (account deletion)."""
    key = f"signin:account:{SignInAttempt(email=email, address='').email_key()}"
    cache.delete_many([f"{key}:failures", f"{key}:until"])
