"""Registration, sign-in (knox token + session), token expiry, sign-out, CSRF, and sign-in delays by client address."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from backcare.accounts import signin_guard
from backcare.accounts.models import Profile, Role, User
from recovery.episodes.models import CheckIn, Episode
from tests.factories import PASSWORD, EpisodeFactory, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
LOGIN = "/api/auth/login/"
LOGOUT = "/api/auth/logout/"
ME = "/api/me/"
PROFILE = "/api/me/profile/"
GENERIC_LOGIN_ERROR = {"non_field_errors": ["Wrong email or password."]}
UNAUTHENTICATED = {401, 403}


def login(client: APIClient, email: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def token_client(token: str, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


# --- registration --------------------------------------------------------------------------


def test_register_creates_a_patient_with_a_lowercased_email():
    response = APIClient().post(
        REGISTER,
        {
            "email": "  Ada.Lovelace@Example.TEST ",
            "password": PASSWORD,
            "display_name": "Ada",
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["email"] == "ada.lovelace@example.test"
    assert data["role"] == "patient"
    assert data["display_name"] == "Ada"
    assert "password" not in data
    user = User.objects.get(pk=data["id"])
    assert user.email == "ada.lovelace@example.test"
    assert user.role == Role.PATIENT
    assert not user.is_staff and not user.is_superuser
    assert user.check_password(PASSWORD)
    assert Profile.objects.get(user=user).timezone == "Europe/Berlin"


def test_registered_user_can_sign_in():
    APIClient().post(REGISTER, {"email": "new@example.test", "password": PASSWORD})
    response = login(APIClient(), "NEW@example.test")
    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == "new@example.test"


@pytest.mark.parametrize("spelling", ["taken@example.test", "TAKEN@EXAMPLE.TEST", "Taken@Example.Test"])
def test_register_duplicate_email_in_any_case_is_a_conflict(spelling):
    UserFactory(email="taken@example.test")
    response = APIClient().post(REGISTER, {"email": spelling, "password": PASSWORD})
    assert response.status_code == 409, response.content
    assert "email" in response.json()
    assert User.objects.filter(email__iexact="taken@example.test").count() == 1


@pytest.mark.parametrize(
    "password",
    ["short", "password123", "12345678901234", "weakling@example.test"],
    ids=["too-short", "common", "numeric", "like-the-email"],
)
def test_register_weak_password_is_refused_naming_password(password):
    response = APIClient().post(REGISTER, {"email": "weakling@example.test", "password": password})
    assert response.status_code == 400, response.content
    errors = response.json()
    assert "password" in errors, errors
    assert errors["password"]
    assert not User.objects.filter(email="weakling@example.test").exists()


@pytest.mark.parametrize(
    "smuggled",
    [
        {"role": "physiotherapist"},
        {"role": "patient"},
        {"is_staff": True},
        {"is_superuser": True},
        {"is_active": False},
    ],
)
def test_register_refuses_role_and_privilege_fields(smuggled):
    physios_before = User.objects.filter(role=Role.PHYSIOTHERAPIST).count()
    response = APIClient().post(REGISTER, {"email": "sneaky@example.test", "password": PASSWORD, **smuggled})
    assert response.status_code == 400, response.content
    assert set(smuggled) <= set(response.json())
    assert not User.objects.filter(email="sneaky@example.test").exists()
    assert User.objects.filter(role=Role.PHYSIOTHERAPIST).count() == physios_before


def test_register_invalid_timezone_and_missing_fields_are_named():
    response = APIClient().post(
        REGISTER, {"email": "tz@example.test", "password": PASSWORD, "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 400
    assert "timezone" in response.json()
    response = APIClient().post(REGISTER, {})
    assert response.status_code == 400
    assert {"email", "password"} <= set(response.json())
    response = APIClient().post(REGISTER, {"email": "not-an-email", "password": PASSWORD})
    assert response.status_code == 400
    assert "email" in response.json()
    assert not User.objects.exists()


def test_register_does_not_sign_in():
    client = APIClient()
    response = client.post(REGISTER, {"email": "fresh@example.test", "password": PASSWORD})
    assert response.status_code == 201
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert "token" not in response.json()
    assert client.get(ME).status_code in UNAUTHENTICATED


# --- login: token and session --------------------------------------------------------------


def test_login_answers_a_token_and_sets_a_session_cookie(patient):
    client = APIClient()
    response = login(client, patient.email)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["user"] == {
        "id": patient.id,
        "email": patient.email,
        "display_name": patient.display_name,
        "role": "patient",
        "date_joined": data["user"]["date_joined"],
    }
    assert data["token"]
    assert data["expiry"]
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert cookie["httponly"]
    assert Session.objects.filter(session_key=cookie.value).exists()
    # The session alone authenticates the web app.
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == patient.email


def test_login_email_is_case_insensitive(patient):
    response = login(APIClient(), patient.email.upper())
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == patient.id


def test_token_is_stored_hashed(patient):
    raw = login(APIClient(), patient.email).json()["token"]
    token = AuthToken.objects.get(user=patient)
    assert token.digest == hash_token(raw)
    assert token.digest != raw
    assert not AuthToken.objects.filter(digest=raw).exists()
    # knox keeps only a short lookup prefix in clear; the full token is never stored.
    assert len(token.token_key) < len(raw)
    for value in AuthToken.objects.filter(user=patient).values().get().values():
        assert str(value) != raw


def test_token_expiry_matches_the_configured_ttl(patient):
    with time_machine.travel(timezone.now(), tick=False):
        before = timezone.now()
        data = login(APIClient(), patient.email).json()
    token = AuthToken.objects.get(user=patient)
    assert token.expiry == before + settings.REST_KNOX["TOKEN_TTL"]
    assert data["expiry"].startswith(token.expiry.strftime("%Y-%m-%dT%H:%M:%S"))


def test_each_login_issues_its_own_token(patient):
    first = login(APIClient(), patient.email).json()["token"]
    second = login(APIClient(), patient.email).json()["token"]
    assert first != second
    assert AuthToken.objects.filter(user=patient).count() == 2


def test_token_authenticates_me(patient):
    raw = login(APIClient(), patient.email).json()["token"]
    client = token_client(raw)
    response = client.get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == patient.email
    assert client.get(PROFILE).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Token not-a-real-token", "Token ", "Token a b", "Token " + "0" * 64],
    ids=["garbage", "empty", "spaces", "well-formed-unknown"],
)
def test_invalid_token_is_401(patient, header):
    login(APIClient(), patient.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ME)
    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"] == "Token"


def test_anonymous_me_is_refused():
    response = APIClient().get(ME)
    assert response.status_code in UNAUTHENTICATED
    assert "email" not in response.json()


def test_expired_token_is_401_and_deleted(patient):
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        raw = login(APIClient(), patient.email).json()["token"]
    with time_machine.travel(start + ttl + timedelta(seconds=1), tick=False):
        response = token_client(raw).get(ME)
    assert response.status_code == 401, response.content
    assert not AuthToken.objects.filter(user=patient).exists()


def test_token_still_works_just_before_expiry(patient):
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        raw = login(APIClient(), patient.email).json()["token"]
    with time_machine.travel(start + ttl - timedelta(minutes=1), tick=False):
        assert token_client(raw).get(ME).status_code == 200


def test_inactive_users_token_is_refused(patient):
    raw = login(APIClient(), patient.email).json()["token"]
    User.objects.filter(pk=patient.pk).update(is_active=False)
    assert token_client(raw).get(ME).status_code == 401


# --- logout --------------------------------------------------------------------------------


def test_logout_revokes_only_the_token_used(patient):
    used = login(APIClient(), patient.email).json()["token"]
    kept = login(APIClient(), patient.email).json()["token"]
    client = token_client(used)
    response = client.post(LOGOUT)
    assert response.status_code == 204, response.content
    assert not AuthToken.objects.filter(digest=hash_token(used)).exists()
    assert client.get(ME).status_code == 401
    assert client.post(LOGOUT).status_code == 401
    # The user's other device stays signed in.
    assert token_client(kept).get(ME).status_code == 200


def test_logout_ends_the_session(patient):
    client = APIClient()
    session_key = login(client, patient.email).cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(ME).status_code == 200
    response = client.post(LOGOUT)
    assert response.status_code == 204, response.content
    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get(ME).status_code in UNAUTHENTICATED
    # A replay of the old cookie does not resurrect the session.
    replay = APIClient()
    replay.cookies[settings.SESSION_COOKIE_NAME] = session_key
    assert replay.get(ME).status_code in UNAUTHENTICATED


def test_session_logout_leaves_tokens_alone(patient):
    client = APIClient()
    raw = login(client, patient.email).json()["token"]
    assert client.post(LOGOUT).status_code == 204
    assert token_client(raw).get(ME).status_code == 200


def test_anonymous_logout_is_refused():
    assert APIClient().post(LOGOUT).status_code in UNAUTHENTICATED


# --- CSRF on session-authenticated writes --------------------------------------------------


@pytest.fixture
def csrf_session(patient):
    """A web-app client signed in by session, with Django's CSRF checks switched on."""
    client = APIClient(enforce_csrf_checks=True)
    response = login(client, patient.email)
    assert response.status_code == 200, response.content
    assert settings.CSRF_COOKIE_NAME in client.cookies, "login must hand out a fresh CSRF cookie"
    return client


def _csrf(client: APIClient) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}


def test_session_post_without_csrf_token_is_403(csrf_session, patient):
    response = csrf_session.post("/api/episodes/", {"onset": timezone.now().isoformat()})
    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["detail"]
    assert not Episode.objects.filter(patient=patient).exists()


def test_session_post_with_csrf_token_succeeds(csrf_session, patient):
    response = csrf_session.post("/api/episodes/", {"onset": timezone.now().isoformat()}, **_csrf(csrf_session))
    assert response.status_code == 201, response.content
    assert Episode.objects.filter(patient=patient).count() == 1


def test_session_put_requires_csrf_token(csrf_session, patient):
    EpisodeFactory(patient=patient)
    url = f"/api/checkins/{uuid.uuid4()}/"
    response = csrf_session.put(url, {"pain": 4})
    assert response.status_code == 403, response.content
    assert not CheckIn.objects.filter(patient=patient).exists()
    response = csrf_session.put(url, {"pain": 4}, **_csrf(csrf_session))
    assert response.status_code == 201, response.content
    assert CheckIn.objects.filter(patient=patient).count() == 1


def test_session_patch_requires_csrf_token(csrf_session, patient):
    response = csrf_session.patch(PROFILE, {"timezone": "Asia/Tokyo"})
    assert response.status_code == 403, response.content
    assert Profile.objects.get(user=patient).timezone == "UTC"
    response = csrf_session.patch(PROFILE, {"timezone": "Asia/Tokyo"}, **_csrf(csrf_session))
    assert response.status_code == 200, response.content
    assert Profile.objects.get(user=patient).timezone == "Asia/Tokyo"


def test_session_logout_requires_csrf_token(csrf_session):
    assert csrf_session.post(LOGOUT).status_code == 403
    assert csrf_session.get(ME).status_code == 200
    assert csrf_session.post(LOGOUT, **_csrf(csrf_session)).status_code == 204
    assert csrf_session.get(ME).status_code in UNAUTHENTICATED


def test_wrong_csrf_token_is_403(csrf_session):
    response = csrf_session.patch(PROFILE, {"timezone": "Asia/Tokyo"}, HTTP_X_CSRFTOKEN="x" * 64)
    assert response.status_code == 403


def test_safe_methods_need_no_csrf_token(csrf_session):
    assert csrf_session.get(ME).status_code == 200
    assert csrf_session.get(PROFILE).status_code == 200


def test_token_requests_need_no_csrf_token(patient):
    raw = login(APIClient(), patient.email).json()["token"]
    client = token_client(raw, enforce_csrf_checks=True)
    response = client.patch(PROFILE, {"timezone": "Asia/Tokyo"})
    assert response.status_code == 200, response.content


# --- wrong credentials, lockout, inactive accounts -----------------------------------------


def test_wrong_password_is_400_with_a_generic_message(patient):
    client = APIClient()
    response = login(client, patient.email, "not-the-password")
    assert response.status_code == 400
    assert response.json() == GENERIC_LOGIN_ERROR
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not AuthToken.objects.exists()
    assert client.get(ME).status_code in UNAUTHENTICATED


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(patient):
    unknown = login(APIClient(), "nobody@example.test", "not-the-password")
    wrong = login(APIClient(), patient.email, "not-the-password")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json() == GENERIC_LOGIN_ERROR


def test_login_refuses_malformed_bodies():
    assert login(APIClient(), "not-an-email").status_code == 400
    response = APIClient().post(LOGIN, {"email": "a@example.test", "password": PASSWORD, "role": "patient"})
    assert response.status_code == 400
    assert "role" in response.json()


def test_inactive_user_cannot_log_in():
    user = UserFactory(is_active=False)
    response = login(APIClient(), user.email)
    assert response.status_code == 400
    assert response.json() == GENERIC_LOGIN_ERROR
    assert not AuthToken.objects.exists()


FREE = settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ACCOUNT
CAP = settings.BACKCARE_SIGNIN_DELAY_CAP


def _fail(n: int, email: str, **extra) -> list[int]:
    return [login(APIClient(), email, f"wrong-{i}", **extra).status_code for i in range(n)]


def test_failures_past_the_free_ones_make_the_next_attempt_wait(patient):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert _fail(FREE + 1, patient.email) == [400] * (FREE + 1)  # the last one starts a 1-s wait
        response = login(APIClient(), patient.email)  # even the right password waits
        assert response.status_code == 429
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["detail"]
        assert response.headers["Retry-After"] == "1"
        assert "token" not in response.content.decode()
        assert settings.SESSION_COOKIE_NAME not in response.cookies
        assert not AuthToken.objects.exists()
    with time_machine.travel(start + timedelta(seconds=1.5), tick=False):
        assert login(APIClient(), patient.email).status_code == 200


def test_the_wait_doubles_with_each_failure_up_to_the_cap(patient):
    moment = timezone.now()
    waits = []
    for _ in range(16):
        with time_machine.travel(moment, tick=False):
            assert login(APIClient(), patient.email, "wrong").status_code == 400
            response = login(APIClient(), patient.email, "wrong")
            wait = int(response.headers.get("Retry-After", 0)) if response.status_code == 429 else 0
            waits.append(wait)
        moment += timedelta(seconds=wait + 1)
    delays = [w for w in waits if w]
    assert delays[:4] == [1, 2, 4, 8]
    assert max(delays) == int(CAP.total_seconds())


def test_attempts_during_a_wait_neither_count_nor_prolong_it(patient):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _fail(FREE + 1, patient.email)
        for _ in range(50):  # an attacker hammering during the wait
            clock.shift(0.01)
            assert login(APIClient(), patient.email, "wrong").status_code == 429
        clock.move_to(start + timedelta(seconds=1.1))
        assert login(APIClient(), patient.email).status_code == 200


def test_an_attacker_cannot_keep_the_owner_out_of_a_device_they_signed_in_on(patient):
    owner = APIClient()
    assert login(owner, patient.email).status_code == 200  # the phone the owner uses: it keeps a device cookie
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        # An attacker without the password, from many addresses, for an hour: every attempt that may be made.
        for minute in range(60):
            for n in range(20):
                login(APIClient(), patient.email, "guess", REMOTE_ADDR=f"127.0.{minute}.{n + 1}")
            assert login(APIClient(), patient.email, "guess").status_code == 429  # a new device must wait
            response = login(owner, patient.email)  # the owner's phone never does
            assert response.status_code == 200, response.content
            clock.shift(60)


def test_a_stolen_or_forged_device_cookie_gets_no_free_guesses(patient, other_patient):
    mine = APIClient()
    login(mine, other_patient.email)  # a valid cookie, but for another account
    _fail(FREE + 1, patient.email)
    assert login(mine, patient.email).status_code == 429
    forged = APIClient()
    forged.cookies[signin_guard.DEVICE_COOKIE] = "forged"
    assert login(forged, patient.email).status_code == 429


def test_the_device_counts_its_own_failures(patient):
    device = APIClient()
    assert login(device, patient.email).status_code == 200
    free = settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_DEVICE
    assert [login(device, patient.email, "wrong").status_code for _ in range(free + 2)][-1] == 429


def test_delays_count_the_email_case_insensitively(patient):
    spellings = [patient.email.upper(), patient.email.title(), patient.email]
    for i in range(FREE + 1):
        login(APIClient(), spellings[i % len(spellings)], f"wrong-{i}")
    assert login(APIClient(), patient.email).status_code == 429


def test_an_address_spraying_many_accounts_waits(settings):
    settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS = 3
    for n in range(4):
        assert login(APIClient(), f"nobody{n}@example.test", "guess").status_code == 400
    assert login(APIClient(), "nobody9@example.test", "guess").status_code == 429
    assert login(APIClient(), "nobody9@example.test", "guess", REMOTE_ADDR="127.0.0.9").status_code == 400


def test_failures_below_the_free_ones_do_not_delay_and_success_resets(patient):
    _fail(FREE, patient.email)
    assert login(APIClient(), patient.email).status_code == 200
    # The counter started again: FREE further failures still leave the door open.
    _fail(FREE, patient.email)
    assert login(APIClient(), patient.email).status_code == 200


# --- the client address: only trusted proxies' X-Forwarded-For ------------------------------


def _spoofed(n: int, email: str, forwarded: str, peer: str = "127.0.0.1") -> list[int]:
    return [
        login(APIClient(), email, "guess", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded).status_code
        for _ in range(n)
    ]


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(settings):
    settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS = 3
    # Each attempt claims another address; all count against the peer address.
    codes = [
        login(APIClient(), f"x{n}@example.test", "guess", HTTP_X_FORWARDED_FOR=f"127.1.0.{n}").status_code
        for n in range(5)
    ]
    assert codes[-1] == 429


def test_behind_one_trusted_proxy_the_forwarded_client_is_the_key(settings):
    settings.BACKCARE_TRUSTED_PROXIES = "1"
    settings.BACKCARE_SIGNIN_FREE_FAILURES_PER_ADDRESS = 3
    # Every request comes from the proxy (127.0.0.1); the proxy appends the real client's address.
    assert _spoofed(4, "a@example.test", "127.2.0.1")[-1] == 400
    assert login(APIClient(), "b@example.test", "guess", HTTP_X_FORWARDED_FOR="127.2.0.1").status_code == 429
    # Another client behind the same proxy is not held up by the first one's failures ...
    assert _spoofed(1, "b@example.test", "127.2.0.2") == [400]
    # ... and a client cannot pick its key by sending its own X-Forwarded-For: the proxy appends the real one.
    assert _spoofed(1, "c@example.test", "127.9.9.9, 127.2.0.1") == [429]


def test_throttles_key_on_the_same_client_address(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "3/min"},
    }
    codes = [APIClient().post(REGISTER, {}, HTTP_X_FORWARDED_FOR=f"127.3.0.{n}").status_code for n in range(4)]
    assert codes == [400, 400, 400, 429]  # spoofing X-Forwarded-For does not give each request a new counter
    settings.BACKCARE_TRUSTED_PROXIES = "127.0.0.1"
    assert APIClient().post(REGISTER, {}, HTTP_X_FORWARDED_FOR="127.3.0.9").status_code == 400


def test_tokens_per_user_are_capped(api, settings):
    from knox.models import AuthToken

    from tests.factories import PASSWORD, UserFactory

    user = UserFactory()
    limit = settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]
    tokens = []
    for _ in range(limit + 3):
        response = api.post("/api/auth/login/", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 200
        tokens.append(response.json()["token"])
    assert AuthToken.objects.filter(user=user).count() == limit
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    assert api.get("/api/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[-1]}")
    assert api.get("/api/me/").status_code == 200


def test_expired_tokens_are_purged_by_the_periodic_task(settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone
    from knox.models import AuthToken

    from backcare.accounts.tasks import expired_tokens_purge
    from tests.factories import UserFactory

    user = UserFactory()
    AuthToken.objects.create(user=user)
    with time_machine.travel(timezone.now() + settings.REST_KNOX["TOKEN_TTL"] - timedelta(hours=1)):
        AuthToken.objects.create(user=user)  # still valid after the first expires
    with time_machine.travel(timezone.now() + settings.REST_KNOX["TOKEN_TTL"] + timedelta(minutes=1)):
        assert expired_tokens_purge() == 1
    assert AuthToken.objects.filter(user=user).count() == 1
