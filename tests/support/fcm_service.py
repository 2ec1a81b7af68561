"""A real FCM HTTP v1 service on 127.0.0.1 (HTTPS), with its own OAuth token endpoint, for tests and benches.

    with FcmService(project_id="backcare-test") as fcm:
        info = fcm.service_account_info()      # a service-account JSON whose token_uri is this stand-in's
        token = fcm.device("alice")            # an FCM registration token the service knows
        fcm.respond("alice", 404)              # next answers for alice: UNREGISTERED, then 200
        ...configure the sender with info, fcm.send_url, trusting fcm.ca_file...
        (message,) = fcm.wait_for(1, timeout=5)
        assert message.collapse_key == "..." and message.priority == "HIGH"

The token endpoint (``POST /token``) checks what Google's does: a form with grant_type
``urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion`` that is an RS256 JWT signed by the
service account's key (verified against its public half), ``iss`` = the client_email, ``aud`` = the token
URL (or Google's, which google-auth always names), the firebase.messaging scope, ``exp`` at most an hour
after ``iat``; it answers a random access token valid ``token_lifetime`` seconds, else 400 invalid_grant. ``POST /v1/projects/<id>/messages:send`` needs
``Authorization: Bearer <a token it issued and that has not expired>`` (401 UNAUTHENTICATED otherwise), checks
the message's shape (one ``token`` it issued with device(); ``data`` strings only; ``android.ttl`` like
"3600s"; ``android.priority`` NORMAL or HIGH; at most 4096 bytes) -> 400 INVALID_ARGUMENT, then gives the
next answer queued with respond() (200 when none): 404 as UNREGISTERED, 429 QUOTA_EXCEEDED (with
Retry-After when given as (429, seconds)), 500 INTERNAL, 503 UNAVAILABLE, 401 UNAUTHENTICATED. Every request
to the send URL is recorded in ``received`` with the answer; ``wait_for`` counts the 200s.
"""

from __future__ import annotations

import collections
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.push_receiver import _self_signed_certificate

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_MESSAGE = 4096
_TTL = re.compile(r"\d{1,10}(\.\d{1,9})?s")
_STATUS = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    401: ("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    404: ("NOT_FOUND", "UNREGISTERED"),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "UNAVAILABLE"),
}


@dataclass(frozen=True, slots=True)
class FcmReceived:
    name: str | None  # the device name (device()), None for an unknown token
    message: Any  # the request's "message" object as sent (None if the body was not JSON)
    at: float
    status: int
    error: str = ""

    @property
    def android(self) -> dict:
        return (self.message or {}).get("android") or {}

    @property
    def collapse_key(self) -> str | None:
        return self.android.get("collapse_key")

    @property
    def ttl(self) -> str | None:
        return self.android.get("ttl")

    @property
    def priority(self) -> str | None:
        return self.android.get("priority")

    @property
    def data(self) -> dict:
        return (self.message or {}).get("data") or {}


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _error_body(status: int, message: str) -> bytes:
    name, code = _STATUS.get(status, ("UNKNOWN", "UNSPECIFIED_ERROR"))
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    return json.dumps({"error": {"code": status, "message": message, "status": name, "details": details}}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    service: FcmService

    def handle_error(self, request, client_address) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.do_handshake()

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > 1024 * 1024:
            self.close_connection = True
            self._answer(411, b"", {})
            return
        body = self.rfile.read(int(length))
        status, payload, headers = self.server.service._handle(self.path, self.headers, body)
        self._answer(status, payload, headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FcmService:
    """A loopback FCM HTTP v1 service and token endpoint; use as a context manager. See the module docstring."""

    def __init__(self, *, project_id: str = "backcare-test", token_lifetime: int = 3600) -> None:
        self.project_id = project_id
        self.token_lifetime = token_lifetime
        self.client_email = f"push@{project_id}.iam.gserviceaccount.com"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._devices: dict[str, str] = {}  # token -> name
        self._answers: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._tokens: dict[str, float] = {}  # access token -> expiry (time.time())
        self._successes = 0
        self.token_requests: list[tuple[int, str]] = []  # (status, error) per token request
        self.received: list[FcmReceived] = []
        self._directory: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_file = ""
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FcmService:
        self._directory = tempfile.mkdtemp(prefix="fcm-service-")
        cert_file, key_file = _self_signed_certificate(self._directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.service = self
        self._server, self.ca_file = server, cert_file
        self.base_url = f"https://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> FcmService:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- the test's side --------------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def send_url(self) -> str:
        """The send URL as BACKCARE_FCM_SEND_URL takes it ({project_id} is filled in by the sender)."""
        return f"{self.base_url}/v1/projects/{{project_id}}/messages:send"

    def service_account_info(self, *, key: rsa.RSAPrivateKey | None = None) -> dict:
        """A service-account key file's content; `key` another key (one this service will refuse)."""
        pem = (key or self._key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "stand-in",
            "private_key": pem.decode(),
            "client_email": self.client_email,
            "client_id": "1",
            "token_uri": self.token_url,
        }

    def device(self, name: str) -> str:
        """The registration token of device `name` (made on first use, then kept)."""
        with self._lock:
            for token, known in self._devices.items():
                if known == name:
                    return token
            token = f"{name}:{secrets.token_urlsafe(24)}"
            self._devices[token] = name
            return token

    def respond(self, name: str, *answers) -> None:
        """Queue answers for the next well-formed, authorised sends to `name`: a status (200, 401, 404, 429,
        500, 503) or (429 or 503, retry_after_seconds)."""
        with self._lock:
            self._answers[name].extend(answers)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (401), as after a key is disabled."""
        with self._lock:
            self._tokens.clear()

    def wait_for(self, count: int, timeout: float) -> list[FcmReceived]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self._successes < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return [r for r in self.received if r.status == 200]

    @property
    def delivered(self) -> int:
        return self._successes

    # --- the service's side -------------------------------------------------------------------------

    def _handle(self, path: str, headers, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if path == "/token":
            return self._token(body)
        if path == f"/v1/projects/{self.project_id}/messages:send":
            return self._send(headers, body)
        return 404, _error_body(404, f"no such resource: {path}").replace(b"UNREGISTERED", b"UNSPECIFIED"), {}

    def _token(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(body.decode("ascii", "replace")).items()}
        try:
            if form.get("grant_type") != GRANT:
                raise _Refused(400, f"unsupported grant_type {form.get('grant_type')!r}")
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self._key.public_key(),
                    algorithms=["RS256"],
                    # google-auth names Google's token endpoint as the audience wherever it posts the JWT
                    audience=[self.token_url, GOOGLE_TOKEN_URL],
                    issuer=self.client_email,
                    options={"require": ["iat", "exp", "iss", "aud"]},
                )
            except jwt.InvalidTokenError as exc:
                raise _Refused(400, f"Invalid JWT: {exc}") from None
            if SCOPE not in str(claims.get("scope", "")).split():
                raise _Refused(400, f"scope {claims.get('scope')!r} lacks firebase.messaging")
            if claims["exp"] - claims["iat"] > 3600:
                raise _Refused(400, "JWT lifetime is over an hour")
        except _Refused as refused:
            with self._lock:
                self.token_requests.append((400, refused.error))
            body = {"error": "invalid_grant", "error_description": refused.error}
            return 400, json.dumps(body).encode(), {}
        token = "ya29.stand-in." + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime
            self.token_requests.append((200, ""))
        answer = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return 200, json.dumps(answer).encode(), {}

    def _send(self, headers, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        at, name, message = time.time(), None, None
        try:
            scheme, _, token = (headers.get("Authorization") or "").partition(" ")
            with self._lock:
                expiry = self._tokens.get(token)
            if scheme != "Bearer" or expiry is None or expiry <= at:
                raise _Refused(401, "Request had invalid authentication credentials.")
            try:
                message = json.loads(body).get("message")
            except (ValueError, AttributeError):
                raise _Refused(400, "body is not a JSON object") from None
            name = self._check(message, body)
        except _Refused as refused:
            self._record(FcmReceived(name, message, at, refused.status, refused.error))
            return refused.status, _error_body(refused.status, refused.error), {}
        with self._lock:
            queued = self._answers.get(name)
            answer = queued.popleft() if queued else 200
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        self._record(FcmReceived(name, message, at, status))
        if status == 200:
            return 200, json.dumps({"name": f"projects/{self.project_id}/messages/{uuid.uuid4()}"}).encode(), {}
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return status, _error_body(status, f"answer {status} on demand"), extra

    def _check(self, message: Any, body: bytes) -> str:
        if not isinstance(message, dict):
            raise _Refused(400, "message must be an object")
        targets = [k for k in ("token", "topic", "condition") if k in message]
        if targets != ["token"]:
            raise _Refused(400, f"exactly one target, a token, is expected: {targets}")
        with self._lock:
            name = self._devices.get(message["token"])
        if name is None:
            raise _Refused(400, "The registration token is not a valid FCM registration token")
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise _Refused(400, "data values must be strings")
        android = message.get("android", {})
        if not isinstance(android, dict):
            raise _Refused(400, "android must be an object")
        if "ttl" in android and not _TTL.fullmatch(str(android["ttl"])):
            raise _Refused(400, f"android.ttl must be a duration like '3600s': {android['ttl']!r}")
        if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH"):
            raise _Refused(400, f"android.priority must be NORMAL or HIGH: {android.get('priority')!r}")
        if len(body) > MAX_MESSAGE:
            raise _Refused(400, f"message of {len(body)} bytes is over {MAX_MESSAGE}")
        return name

    def _record(self, message: FcmReceived) -> None:
        with self._arrived:
            self.received.append(message)
            if message.status == 200:
                self._successes += 1
                self._arrived.notify_all()
