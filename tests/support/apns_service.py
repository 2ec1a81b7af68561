"""A real APNs provider API on 127.0.0.1: HTTP/2 over TLS (h2, ALPN "h2"), for tests and benches.

    with ApnsService(team_id="TEAM123456", key_id="KEY1234567", topic="org.backcare.app") as apns:
        apns.p8                          # the .p8 signing key (PEM) the sender is given
        token = apns.device("alice")     # a device token (64 hex digits) the service knows
        apns.respond("alice", 410)       # next answers for alice: 410 Unregistered, then 200
        ...configure the sender with apns.host, trusting apns.ca_file...
        (message,) = apns.wait_for(1, timeout=5)
        assert message.collapse_id == "..." and message.priority == "10"

Each stream ``POST /3/device/<token>`` is checked as Apple's servers do: ``authorization: bearer <jwt>``
that is ES256, signed by the key (verified against its public half), ``kid`` = the key id, ``iss`` = the team
id, ``iat`` under an hour old (403 MissingProviderToken / InvalidProviderToken / ExpiredProviderToken);
``apns-topic`` = the topic (400 MissingTopic / DeviceTokenNotForTopic); ``apns-push-type`` alert or
background (400 InvalidPushType); ``apns-priority`` 5 or 10 (400 BadPriority); ``apns-expiration`` an integer
(400 BadExpirationDate); ``apns-collapse-id`` at most 64 bytes (400 BadCollapseId); a JSON body with an
``aps`` object, at most 4096 bytes (400 PayloadEmpty / 413 PayloadTooLarge); a token device() made (400
BadDeviceToken). Then the next answer queued with respond() (200 with an apns-id when none): 410
Unregistered, 429 TooManyRequests, 500 InternalServerError, 503 ServiceUnavailable. Each stream is recorded
in ``received`` with its answer; ``wait_for`` counts the 200s. One thread per connection; streams of a
connection are answered as they end; ``connections`` counts the TLS handshakes, ``errors`` keeps the
tracebacks of connections that ended in a protocol error.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.push_receiver import _self_signed_certificate

MAX_PAYLOAD = 4096
REASONS = {410: "Unregistered", 429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


@dataclass(frozen=True, slots=True)
class ApnsReceived:
    name: str | None  # the device name (device()), None for an unknown token
    headers: dict = field(repr=False)
    payload: Any  # the JSON body, None if not JSON
    at: float
    status: int
    reason: str = ""

    @property
    def collapse_id(self) -> str | None:
        return self.headers.get("apns-collapse-id")

    @property
    def priority(self) -> str | None:
        return self.headers.get("apns-priority")

    @property
    def expiration(self) -> int | None:
        value = self.headers.get("apns-expiration")
        return int(value) if value and value.isdigit() else None


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class ApnsService:
    """A loopback APNs over HTTP/2; use as a context manager. See the module docstring."""

    def __init__(self, *, team_id: str = "TEAM123456", key_id: str = "KEY1234567", topic: str = "org.backcare.app"):
        self.team_id, self.key_id, self.topic = team_id, key_id, topic
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.p8 = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._devices: dict[str, str] = {}  # token -> name
        self._answers: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._successes = 0
        self.connections = 0  # TLS connections accepted (HTTP/2 multiplexes: few are expected)
        self.received: list[ApnsReceived] = []
        self.errors: list[str] = []  # tracebacks of connections that ended in an error
        self._sockets: set = set()
        self._listener: socket.socket | None = None
        self._directory: str | None = None
        self._context: ssl.SSLContext | None = None
        self._running = False
        self.ca_file = ""
        self.host = ""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> ApnsService:
        self._directory = tempfile.mkdtemp(prefix="apns-service-")
        cert_file, key_file = _self_signed_certificate(self._directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols(["h2"])
        self._context, self.ca_file = context, cert_file
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener, self._running = listener, True
        self.host = f"127.0.0.1:{listener.getsockname()[1]}"
        threading.Thread(target=self._accept, name="apns-service", daemon=True).start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> ApnsService:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- the test's side --------------------------------------------------------------------------

    def device(self, name: str) -> str:
        with self._lock:
            for token, known in self._devices.items():
                if known == name:
                    return token
            token = os.urandom(32).hex()
            self._devices[token] = name
            return token

    def respond(self, name: str, *answers) -> None:
        """Queue answers for the next well-formed, authorised pushes to `name`: a status (200, 410, 429, 500,
        503) or (429 or 503, retry_after_seconds)."""
        with self._lock:
            self._answers[name].extend(answers)

    def wait_for(self, count: int, timeout: float) -> list[ApnsReceived]:
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

    def _accept(self) -> None:
        while self._running:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), name="apns-connection", daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(60)
        try:
            sock = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with self._lock:
            self._sockets.add(sock)
            self.connections += 1
        try:
            if sock.selected_alpn_protocol() != "h2":
                return
            self._speak(sock)
        except OSError:
            pass  # the client hung up
        except Exception as exc:  # noqa: BLE001 - a protocol error or a bug here: kept for the test to see
            self.errors.append("".join(traceback.format_exception(exc)))
        finally:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _speak(self, sock: ssl.SSLSocket) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        streams: dict[int, tuple[dict, bytearray]] = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    streams[event.stream_id] = (dict(event.headers), bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    streams[event.stream_id][1].extend(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = streams.pop(event.stream_id)
                    status, extra, answer = self._handle(headers, bytes(body))
                    response = [(":status", str(status)), *extra.items(), ("content-length", str(len(answer)))]
                    conn.send_headers(event.stream_id, response, end_stream=not answer)
                    if answer:
                        conn.send_data(event.stream_id, answer, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    def _handle(self, headers: dict, body: bytes) -> tuple[int, dict[str, str], bytes]:
        at, name, payload = time.time(), None, None
        path = headers.get(":path", "")
        try:
            if headers.get(":method") != "POST":
                raise _Refused(405, "MethodNotAllowed")
            if not path.startswith("/3/device/"):
                raise _Refused(404, "BadPath")
            self._check_token(headers.get("authorization"), at)
            with self._lock:
                name = self._devices.get(path.removeprefix("/3/device/"))
            if name is None:
                raise _Refused(400, "BadDeviceToken")
            self._check_headers(headers)
            if len(body) > MAX_PAYLOAD:
                raise _Refused(413, "PayloadTooLarge")
            try:
                payload = json.loads(body)
            except ValueError:
                raise _Refused(400, "PayloadEmpty") from None
            if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
                raise _Refused(400, "PayloadEmpty")
        except _Refused as refused:
            self._record(ApnsReceived(name, headers, payload, at, refused.status, refused.reason))
            return refused.status, {}, json.dumps({"reason": refused.reason}).encode()
        with self._lock:
            queued = self._answers.get(name)
            answer = queued.popleft() if queued else 200
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        self._record(ApnsReceived(name, headers, payload, at, status))
        if status == 200:
            return 200, {"apns-id": str(uuid.uuid4()).upper()}, b""
        extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
        reason = {"reason": REASONS.get(status, "InternalServerError")}
        if status == 410:
            reason["timestamp"] = int(at * 1000)
        return status, extra, json.dumps(reason).encode()

    def _check_token(self, authorization: str | None, now: float) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Refused(403, "MissingProviderToken")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self._key.public_key(), algorithms=["ES256"], options={"require": ["iat", "iss"]}
            )
        except jwt.InvalidTokenError:
            raise _Refused(403, "InvalidProviderToken") from None
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            raise _Refused(403, "InvalidProviderToken")
        if now - claims["iat"] > 3600:
            raise _Refused(403, "ExpiredProviderToken")

    def _check_headers(self, headers: dict) -> None:
        topic = headers.get("apns-topic")
        if not topic:
            raise _Refused(400, "MissingTopic")
        if topic != self.topic:
            raise _Refused(400, "DeviceTokenNotForTopic")
        if headers.get("apns-push-type") not in ("alert", "background"):
            raise _Refused(400, "InvalidPushType")
        if headers.get("apns-priority", "10") not in ("5", "10"):
            raise _Refused(400, "BadPriority")
        expiration = headers.get("apns-expiration", "0")
        if not expiration.isdigit():
            raise _Refused(400, "BadExpirationDate")
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            raise _Refused(400, "BadCollapseId")

    def _record(self, message: ApnsReceived) -> None:
        with self._arrived:
            self.received.append(message)
            if message.status == 200:
                self._successes += 1
                self._arrived.notify_all()
