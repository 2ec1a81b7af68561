"""VAPID keys from settings, and the signed header cache (backcare/push/vapid.py, manage.py vapid_keys)."""

import base64
import json
import stat
import threading
import time

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from py_vapid import Vapid

from backcare.push import vapid
from backcare.push.vapid import (
    TOKEN_LIFETIME,
    b64url_decode,
    generate_private_key,
    origin_of,
    private_key_from_text,
    private_key_to_pem,
    private_key_to_raw_b64,
    public_key_b64,
    push_settings,
    vapid_headers_for,
    vapid_private_key,
    vapid_public_key_b64,
)
from tests.backcare.test_settings import ROOT, production_env, run

SUBJECT = "mailto:ops@backcare.invalid"


def claims_of(headers: dict) -> dict:
    token = headers["Authorization"].split("t=", 1)[1].split(",", 1)[0]
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture(autouse=True)
def fresh_token_cache():
    vapid._tokens.clear()
    yield
    vapid._tokens.clear()


# --- key formats -----------------------------------------------------------------------------


def test_every_key_format_gives_the_same_key():
    key = generate_private_key()
    pem = private_key_to_pem(key).decode()
    sec1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    der = base64.urlsafe_b64encode(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ).decode()
    forms = [pem, sec1, pem.replace("\n", "\\n"), f"  {pem}  ", private_key_to_raw_b64(key), der.rstrip("=")]
    assert {public_key_b64(private_key_from_text(text)) for text in forms} == {public_key_b64(key)}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "AAAA",
        private_key_to_pem(ec.generate_private_key(ec.SECP384R1())).decode(),
    ],
    ids=["empty", "junk", "bad-pem", "short-raw", "p384"],
)
def test_unusable_keys_are_refused_without_echoing_them(text):
    with pytest.raises(ImproperlyConfigured) as raised:
        push_settings(private_key=text or " ", subject=SUBJECT, required=True)
    assert "BACKCARE_VAPID_PRIVATE_KEY" in str(raised.value)
    if len(text) > 8:
        assert text not in str(raised.value)


def test_push_settings_derive_the_public_key_and_configure_the_library():
    key = generate_private_key()
    derived = push_settings(private_key=private_key_to_pem(key).decode(), subject=SUBJECT, required=True)
    assert derived.public_key == public_key_b64(key)
    assert derived.library["WP_CLAIMS"] == {"sub": SUBJECT}
    # pywebpush reads WP_PRIVATE_KEY with Vapid.from_string: a raw scalar, not a PEM (taken for a file name).
    library_key = Vapid.from_string(derived.library["WP_PRIVATE_KEY"])
    assert public_key_b64(library_key.private_key) == public_key_b64(key)


def test_a_public_key_that_does_not_match_is_refused():
    key = private_key_to_pem(generate_private_key()).decode()
    with pytest.raises(ImproperlyConfigured, match="BACKCARE_VAPID_PUBLIC_KEY"):
        push_settings(
            private_key=key, public_key=public_key_b64(generate_private_key()), subject=SUBJECT, required=True
        )


@pytest.mark.parametrize("subject", ["ops@backcare.invalid", "mailto:", "mailto:nobody", "http://backcare.invalid", ""])
def test_a_subject_that_is_not_mailto_or_https_is_refused(subject):
    with pytest.raises(ImproperlyConfigured, match="BACKCARE_VAPID_SUBJECT"):
        push_settings(private_key="", subject=subject, required=False)


def test_without_a_key_push_is_unconfigured_unless_required():
    assert push_settings(private_key="", subject=SUBJECT, required=False).public_key == ""
    with pytest.raises(ImproperlyConfigured, match="BACKCARE_VAPID_PRIVATE_KEY must be set"):
        push_settings(private_key="", subject=SUBJECT, required=True)
    with (
        override_settings(BACKCARE_VAPID_PRIVATE_KEY="", BACKCARE_VAPID_PUBLIC_KEY=""),
        pytest.raises(ImproperlyConfigured),
    ):
        vapid_headers_for("https://fcm.googleapis.com")


def test_test_settings_have_a_key_and_the_library_agrees():
    assert vapid_public_key_b64() == settings.BACKCARE_VAPID_PUBLIC_KEY == public_key_b64(vapid_private_key())
    assert vapid_private_key() is vapid_private_key()  # parsed once
    assert settings.PUSH_NOTIFICATIONS_SETTINGS["WP_CLAIMS"] == {"sub": settings.BACKCARE_VAPID_SUBJECT}
    # The library's fallback for ids that are not full https endpoints points nowhere off this machine.
    assert all(
        url.startswith("https://127.0.0.1:9/") for url in settings.PUSH_NOTIFICATIONS_SETTINGS["WP_POST_URL"].values()
    )


# --- signed headers, once per origin -----------------------------------------------------------


@pytest.mark.parametrize(
    "url, origin",
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com"),
        ("https://FCM.googleapis.com:443/x", "https://fcm.googleapis.com"),
        ("https://127.0.0.1:8443/push/a?b#c", "https://127.0.0.1:8443"),
        ("https://[::1]:8443/push/a", "https://[::1]:8443"),
        ("https://web.push.apple.com", "https://web.push.apple.com"),
    ],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_headers_are_signed_once_per_origin_and_carry_the_claims():
    before = vapid._tokens.signed
    first = vapid_headers_for("https://fcm.googleapis.com/fcm/send/one")
    second = vapid_headers_for("https://fcm.googleapis.com/fcm/send/two")
    other = vapid_headers_for("https://updates.push.services.mozilla.com/wpush/v2/x")
    assert first == second != other
    assert vapid._tokens.signed - before == 2
    assert (
        first["Authorization"].startswith("vapid t=")
        and f", k={settings.BACKCARE_VAPID_PUBLIC_KEY}" in first["Authorization"]
    )
    claims = claims_of(first)
    assert claims["aud"] == "https://fcm.googleapis.com"
    assert claims["sub"] == settings.BACKCARE_VAPID_SUBJECT
    assert abs(claims["exp"] - (time.time() + TOKEN_LIFETIME)) < 5
    first["TTL"] = "60"  # callers may add to what they get; the cache is not changed
    assert "TTL" not in vapid_headers_for("https://fcm.googleapis.com")


def test_a_token_is_renewed_an_hour_before_it_expires():
    with time_machine.travel(1_900_000_000, tick=False):
        token = vapid_headers_for("https://fcm.googleapis.com")
    with time_machine.travel(1_900_000_000 + TOKEN_LIFETIME - 3601, tick=False):
        assert vapid_headers_for("https://fcm.googleapis.com") == token
    with time_machine.travel(1_900_000_000 + TOKEN_LIFETIME - 3600, tick=False):
        renewed = vapid_headers_for("https://fcm.googleapis.com")
    assert renewed != token
    assert claims_of(renewed)["exp"] == 1_900_000_000 + 2 * TOKEN_LIFETIME - 3600


def test_a_new_key_or_subject_signs_anew():
    token = vapid_headers_for("https://fcm.googleapis.com")
    with override_settings(BACKCARE_VAPID_SUBJECT="mailto:other@backcare.invalid"):
        assert claims_of(vapid_headers_for("https://fcm.googleapis.com"))["sub"] == "mailto:other@backcare.invalid"
    key = generate_private_key()
    with override_settings(BACKCARE_VAPID_PRIVATE_KEY=private_key_to_raw_b64(key), BACKCARE_VAPID_PUBLIC_KEY=""):
        assert f"k={public_key_b64(key)}" in vapid_headers_for("https://fcm.googleapis.com")["Authorization"]
    assert vapid_headers_for("https://fcm.googleapis.com") == token


def test_many_threads_at_once_get_one_token():
    before = vapid._tokens.signed
    barrier = threading.Barrier(16)
    seen = []

    def worker():
        barrier.wait()
        seen.append(vapid_headers_for("https://wns2-par02p.notify.windows.com/w/?token=x")["Authorization"])

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen) == 16
    assert vapid._tokens.signed - before == 1


# --- manage.py vapid_keys --------------------------------------------------------------------------


def test_vapid_keys_ensure_creates_a_private_file_once(tmp_path, capsys):
    path = tmp_path / "var" / "vapid_private.pem"
    call_command("vapid_keys", "--ensure", str(path))
    first = capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = private_key_from_text(path.read_text())
    assert first.strip() == f"BACKCARE_VAPID_PUBLIC_KEY={public_key_b64(key)}"
    content = path.read_bytes()
    call_command("vapid_keys", "--ensure", str(path))
    assert capsys.readouterr().out == first and path.read_bytes() == content  # never replaced
    assert [p.name for p in path.parent.iterdir()] == ["vapid_private.pem"]  # no temporary file left


def test_vapid_keys_ensure_refuses_a_broken_file(tmp_path):
    path = tmp_path / "vapid_private.pem"
    path.write_text("garbage")
    with pytest.raises(CommandError, match="vapid_private.pem"):
        call_command("vapid_keys", "--ensure", str(path))
    assert path.read_text() == "garbage"


def test_vapid_keys_without_arguments_prints_environment_lines(capsys):
    call_command("vapid_keys")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    key = private_key_from_text(lines["BACKCARE_VAPID_PRIVATE_KEY"])
    assert lines["BACKCARE_VAPID_PUBLIC_KEY"] == public_key_b64(key)
    assert len(b64url_decode(lines["BACKCARE_VAPID_PRIVATE_KEY"])) == 32


# --- start-up, in a fresh interpreter ---------------------------------------------------------------

SHOW = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; print(s.BACKCARE_VAPID_PUBLIC_KEY)",
]


def test_production_without_a_vapid_key_fails_naming_it():
    result = run(SHOW, production_env(BACKCARE_VAPID_PRIVATE_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "BACKCARE_VAPID_PRIVATE_KEY must be set" in result.stderr


def test_production_with_a_broken_vapid_key_fails_without_echoing_it():
    broken = "Zm9vYmFyYmF6cXV1eHF1dXhmb29iYXJiYXpxdXV4cXV1eA-not-a-key"
    result = run(SHOW, production_env(BACKCARE_VAPID_PRIVATE_KEY=broken))
    assert result.returncode != 0 and "BACKCARE_VAPID_PRIVATE_KEY" in result.stderr
    assert broken not in result.stderr


def test_production_with_a_vapid_key_starts_and_passes_check_deploy():
    key = generate_private_key()
    env = production_env(BACKCARE_VAPID_PRIVATE_KEY=private_key_to_raw_b64(key))
    result = run(SHOW, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(public_key_b64(key))
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_ca_bundle_that_is_not_a_file_fails():
    env = production_env(BACKCARE_VAPID_PRIVATE_KEY=private_key_to_raw_b64(generate_private_key()))
    result = run(SHOW, {**env, "BACKCARE_PUSH_CA_BUNDLE": "/nonexistent/ca.pem"})
    assert result.returncode != 0 and "BACKCARE_PUSH_CA_BUNDLE" in result.stderr


def test_local_settings_start_without_a_key_and_report_push_unconfigured():
    if (ROOT / "var" / "vapid_private.pem").exists():
        pytest.skip("var/vapid_private.pem exists (make run): local settings use it")
    result = run(SHOW, {"DJANGO_SETTINGS_MODULE": "backcare.settings.local"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""  # BACKCARE_VAPID_PUBLIC_KEY is empty: /api/push/vapid-key/ answers 503


def test_test_settings_make_an_ephemeral_key_per_process():
    env = {"DJANGO_SETTINGS_MODULE": "backcare.settings.test"}
    keys = {run(SHOW, env).stdout.strip().splitlines()[-1] for _ in range(2)}
    assert len(keys) == 2 and all(len(b64url_decode(k)) == 65 for k in keys)
