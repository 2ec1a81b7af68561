"""The FCM and APNs stand-ins refuse what the real services refuse (so a transport that passes against them
speaks the protocol), spoken to directly: requests + google-auth for FCM, httpx over HTTP/2 for APNs."""

import json
import ssl
import time

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from tests.support.apns_service import ApnsService
from tests.support.fcm_service import SCOPE, FcmService


@pytest.fixture
def fcm_service():
    with FcmService() as service:
        yield service


@pytest.fixture
def apns_service():
    with ApnsService() as service:
        yield service


def fcm_token(service: FcmService, key=None) -> str:
    session = requests.Session()
    session.trust_env = False  # no REQUESTS_CA_BUNDLE from the environment in the way
    session.verify = service.ca_file
    info = service.service_account_info(key=key)
    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    credentials.refresh(Request(session))
    return credentials.token


def fcm_post(service: FcmService, body: dict, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = service.send_url.format(project_id=service.project_id)
    return requests.post(url, json=body, headers=headers, verify=service.ca_file, timeout=5)


def test_fcm_token_endpoint_issues_for_the_right_key_only(fcm_service):
    assert fcm_token(fcm_service).startswith("ya29.stand-in.")
    with pytest.raises(Exception, match="invalid_grant"):
        fcm_token(fcm_service, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert [code for code, _ in fcm_service.token_requests] == [200, 400]


def test_fcm_send_checks_the_bearer_and_the_message(fcm_service):
    device = fcm_service.device("pixel")
    good = {"message": {"token": device, "data": {"k": "v"}, "android": {"ttl": "60s", "priority": "HIGH"}}}
    assert fcm_post(fcm_service, good, None).status_code == 401
    assert fcm_post(fcm_service, good, "ya29.made-up").json()["error"]["status"] == "UNAUTHENTICATED"
    token = fcm_token(fcm_service)
    assert fcm_post(fcm_service, good, token).status_code == 200
    for bad in (
        {"message": {"token": device, "data": {"n": 1}}},  # data values are strings
        {"message": {"token": device, "android": {"ttl": 60}}},
        {"message": {"token": device, "android": {"priority": "URGENT"}}},
        {"message": {"token": "unknown"}},
        {"message": {"token": device, "topic": "news"}},
    ):
        response = fcm_post(fcm_service, bad, token)
        assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT", bad
    fcm_service.respond("pixel", 404, (429, 3))
    error = fcm_post(fcm_service, good, token).json()["error"]
    assert error["details"][0]["errorCode"] == "UNREGISTERED"
    throttled = fcm_post(fcm_service, good, token)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert fcm_service.delivered == 1


def apns_post(service: ApnsService, token: str, headers: dict, body: dict) -> httpx.Response:
    context = ssl.create_default_context(cafile=service.ca_file)
    with httpx.Client(http2=True, verify=context) as client:
        response = client.post(f"https://{service.host}/3/device/{token}", headers=headers, content=json.dumps(body))
        assert response.http_version == "HTTP/2"
        return response


def provider_token(service: ApnsService, *, key=None, kid=None, iss=None, iat=None) -> str:
    claims = {"iss": iss or service.team_id, "iat": int(iat or time.time())}
    return jwt.encode(claims, key or service.p8, algorithm="ES256", headers={"kid": kid or service.key_id})


def test_apns_checks_the_provider_token(apns_service):
    device = apns_service.device("iphone")
    base = {"apns-topic": apns_service.topic, "apns-push-type": "alert"}
    body = {"aps": {"alert": "hi"}}

    def reason(**token_args) -> str:
        headers = {**base, "authorization": f"bearer {provider_token(apns_service, **token_args)}"}
        response = apns_post(apns_service, device, headers, body)
        return "" if response.status_code == 200 else response.json()["reason"]

    assert reason() == ""
    assert reason(key=ec.generate_private_key(ec.SECP256R1())) == "InvalidProviderToken"
    assert reason(kid="OTHERKEY00") == "InvalidProviderToken"
    assert reason(iss="OTHERTEAM0") == "InvalidProviderToken"
    assert reason(iat=time.time() - 3700) == "ExpiredProviderToken"
    assert apns_post(apns_service, device, base, body).json()["reason"] == "MissingProviderToken"


def test_apns_checks_headers_payload_and_answers_on_demand(apns_service):
    device = apns_service.device("iphone")
    auth = {"authorization": f"bearer {provider_token(apns_service)}"}
    good = {**auth, "apns-topic": apns_service.topic, "apns-push-type": "alert", "apns-priority": "10"}
    body = {"aps": {"alert": "hi"}}
    cases = [
        ({**good, "apns-topic": "org.other.app"}, body, "DeviceTokenNotForTopic"),
        ({**good, "apns-priority": "7"}, body, "BadPriority"),
        ({**good, "apns-collapse-id": "x" * 65}, body, "BadCollapseId"),
        ({**good, "apns-expiration": "soon"}, body, "BadExpirationDate"),
        (good, {"no": "aps"}, "PayloadEmpty"),
        (good, {"aps": {"alert": "x" * 5000}}, "PayloadTooLarge"),
    ]
    for headers, payload, expected in cases:
        assert apns_post(apns_service, device, headers, payload).json()["reason"] == expected
    assert apns_post(apns_service, "ab" * 32, good, body).json()["reason"] == "BadDeviceToken"
    apns_service.respond("iphone", 410, (429, 2))
    gone = apns_post(apns_service, device, good, body)
    assert gone.status_code == 410 and gone.json()["reason"] == "Unregistered"
    throttled = apns_post(apns_service, device, good, body)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    ok = apns_post(apns_service, device, good, body)
    assert ok.status_code == 200 and ok.headers["apns-id"]
    assert apns_service.delivered == 1 and not apns_service.errors
