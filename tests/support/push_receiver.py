"""A real WebPush push service and browser in one, on 127.0.0.1, for tests and benchmarks.

    with PushReceiver(vapid_public_key=settings.BACKCARE_VAPID_PUBLIC_KEY) as receiver:
        sub = receiver.subscription("alice")  # {"endpoint": "https://127.0.0.1:<port>/push/alice", "keys": {...}}
        receiver.respond("alice", 429, ("slow", 0.2))  # next answers: 429, then 201 after 0.2 s
        receiver.respond("bob", ("trickle", 2.0), ("redirect", url), ("say", 403, "text"))  # hostile answers
        ...send to sub["endpoint"], trusting receiver.ca_file...
        (message,) = receiver.wait_for(1, timeout=5)
        assert message.payload == {...} and message.topic == "..."

Every POST to ``/push/<name>`` is checked the way a push service and the browser would:

* ``Authorization: vapid t=<jwt>, k=<key>`` (RFC 8292): absent -> 401; malformed -> 400; a JWT that is not
  ES256, whose signature does not verify against ``k``, whose ``k`` is not the expected key (when
  ``vapid_public_key`` is given), whose ``aud`` is not ``base_url``, whose ``exp`` is past or more than 24 h
  away, or that has no ``sub`` -> 403;
* RFC 8030 headers: ``TTL`` required (a non-negative integer), ``Urgency`` one of very-low/low/normal/high,
  ``Topic`` at most 32 base64url characters -> 400 otherwise;
* ``Content-Encoding: aes128gcm`` and a body of at most 4096 bytes (413 above) that decrypts (RFC 8291) with
  the subscription's private key and auth secret -> 400 otherwise;
* a name ``subscription()`` never created -> 404 (an unknown or expired subscription).

Then the next answer queued with ``respond()`` for that name is given (201 when none is queued); 201
answers carry a ``Location`` header. Every request to ``/push/...``, accepted or not, is recorded in
``received`` with the status it was answered with; ``wait_for`` counts the 201s.

The server is a ``ThreadingHTTPServer`` over TLS speaking keep-alive HTTP/1.1 (one thread per connection,
TLS handshakes in those threads), with a self-signed certificate for 127.0.0.1 (``ca_file``). A VAPID token
whose signature was verified once is not verified again (its claims are checked on every request), as a
sender signing once per origin would have it. ``count_only=True`` keeps no payloads (messages are still
checked and decrypted), for benchmarks.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import dataclasses
import datetime
import ipaddress
import json
import os
import re
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

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_BODY = 4096  # RFC 8030 section 7.2: push services must accept at least this much; FCM's limit
MAX_TOKEN_LIFETIME = 24 * 3600  # RFC 8292 section 2
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class Received:
    name: str  # the subscription name (the last part of /push/<name>)
    topic: str | None  # Topic header (the collapse key), None if absent
    ttl: int | None  # TTL header, None if absent or not a number (then the answer was 400)
    urgency: str | None  # Urgency header, None if absent
    payload: Any  # the decrypted plaintext, JSON-decoded; None if not decrypted, not JSON, or count_only
    vapid_sub: str | None  # the JWT's sub claim, None if the token was not readable
    at: float  # time.time() when the request was read
    status: int  # what the receiver answered
    error: str = ""  # why it was refused (empty for answers given through respond() or 201)


def _b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _Refused(Exception):
    def __init__(self, status: int, error: str, vapid_sub: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.vapid_sub = status, error, vapid_sub


@dataclass
class _Subscription:
    private_key: ec.EllipticCurvePrivateKey
    p256dh: str
    auth_secret: bytes

    def as_dict(self, endpoint: str) -> dict:
        return {"endpoint": endpoint, "keys": {"p256dh": self.p256dh, "auth": _b64url_encode(self.auth_secret)}}


def _self_signed_certificate(directory: str) -> tuple[str, str]:
    """A P-256 certificate for 127.0.0.1 that is its own CA (so clients can trust exactly it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # A fixed validity, not one around "now": OpenSSL checks it against the machine's real clock, while a test
    # may have moved Python's clock (time-machine) when the receiver starts; a window around a moved "now"
    # would be "not yet valid" or "expired" to the sender.
    valid_from = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    valid_until = datetime.datetime(2099, 12, 31, tzinfo=datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = os.path.join(directory, "push-receiver-ca.pem")
    key_file = os.path.join(directory, "push-receiver-key.pem")
    with open(cert_file, "wb") as file:
        file.write(certificate.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_file, key_file


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    receiver: PushReceiver

    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up or fail the TLS handshake are the client's business, not test noise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "backcare-test-push/1"
    timeout = 60  # an idle keep-alive connection is closed after this long
    server: _Server

    def setup(self) -> None:
        super().setup()  # sets the connection's timeout, so a client that never speaks cannot hold a thread
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.do_handshake()  # here, on this connection's thread, not in the accept loop
        self.server.receiver._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._connection_closed(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass

    def _answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _trickle(self, interval: float) -> bool:
        """A 201 written one byte every `interval` seconds; False when the client hung up first."""
        self.close_connection = True
        answer = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nX-Padding: " + b"." * 64 + b"\r\n\r\n"
        try:
            for byte in answer:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            return False
        return True

    def do_POST(self) -> None:
        at = time.time()
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self.close_connection = True
            self._answer(411)
            return
        length = int(length_header)
        if length > 1024 * 1024:
            self.close_connection = True
            self._answer(413)
            return
        body = self.rfile.read(length)
        status, headers, extra = self.server.receiver._handle(self.path, self.headers, body, at)
        if isinstance(extra, float):
            self.server.receiver._trickled(self.path, at, self._trickle(extra))
        else:
            self._answer(status, headers, extra)

    def do_GET(self) -> None:
        self._answer(405, {"Allow": "POST"})

    do_PUT = do_DELETE = do_PATCH = do_GET


class PushReceiver:
    """A loopback WebPush receiver; use as a context manager. See the module docstring."""

    def __init__(self, *, vapid_public_key: str | None = None, count_only: bool = False) -> None:
        self._expected_key = _b64url_decode(vapid_public_key) if vapid_public_key else None
        self.count_only = count_only
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._subscriptions: dict[str, _Subscription] = {}
        self._answers: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._verified_tokens: dict[str, tuple[bytes, dict]] = {}
        self._trickling: dict[tuple[str, float], Received] = {}
        self._connections: set = set()
        self.connections_opened = 0  # TLS connections accepted so far (a request or not)
        self._successes = 0
        self.received: list[Received] = []
        self._directory: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_file = ""
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> PushReceiver:
        self._directory = tempfile.mkdtemp(prefix="push-receiver-")
        cert_file, key_file = _self_signed_certificate(self._directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols(["http/1.1"])
        server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=True)
        # The handshake happens on the connection's own thread (on first read), not in the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.receiver = self
        self._server = server
        self.ca_file = cert_file
        self.base_url = f"https://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="push-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:  # idle keep-alive connections: end their threads now
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> PushReceiver:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _connection_opened(self, connection) -> None:
        with self._lock:
            self._connections.add(connection)
            self.connections_opened += 1

    def _connection_closed(self, connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    # --- the test's side --------------------------------------------------------------------------

    def subscription(self, name: str) -> dict:
        """What a browser's PushSubscription.toJSON() gives for `name` (keys made on first use, then kept)."""
        if not name or "/" in name or "?" in name or "#" in name:
            raise ValueError(f"a subscription name must be a non-empty path segment: {name!r}")
        with self._lock:
            subscription = self._subscriptions.get(name)
            if subscription is None:
                private_key = ec.generate_private_key(ec.SECP256R1())
                point = private_key.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
                subscription = _Subscription(private_key, _b64url_encode(point), os.urandom(16))
                self._subscriptions[name] = subscription
        return subscription.as_dict(f"{self.base_url}/push/{name}")

    def respond(self, name: str, *answers) -> None:
        """Queue the answers for the next accepted requests to `name`: an int status (201, 404, 410, 429,
        500, 503, ...) or ("slow", seconds): wait that long, then 201. Hostile ones: ("trickle", seconds):
        a 201 written one byte every `seconds` (recorded as 201 only if the client read it all, else 599);
        ("redirect", url[, status]): a 302 (or `status`) to `url`; ("say", status, text): that status with `text` as the body.
        Requests refused by the checks (bad VAPID, undecryptable, ...) do not use up a queued answer."""
        for answer in answers:
            slow = isinstance(answer, tuple) and len(answer) == 2 and answer[0] in ("slow", "trickle")
            if isinstance(answer, tuple) and answer[:1] in (("redirect",), ("say",)):
                continue
            if slow:
                if not isinstance(answer[1], int | float) or answer[1] < 0:
                    raise ValueError(f"('slow', seconds) needs a non-negative number: {answer!r}")
            elif isinstance(answer, bool) or not isinstance(answer, int) or not 200 <= answer <= 599:
                raise ValueError(f"an answer is an HTTP status (int) or ('slow', seconds): {answer!r}")
        with self._lock:
            self._answers[name].extend(answers)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Block until at least `count` requests were answered 201, or `timeout` seconds passed; return the
        201s received so far (fewer than `count` after a timeout: assert on the length)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self._successes < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return [r for r in self.received if r.status == 201]

    @property
    def delivered(self) -> int:
        """How many requests were answered 201 so far."""
        return self._successes

    # --- the push service's side ------------------------------------------------------------------

    def _handle(self, path: str, headers, body: bytes, at: float) -> tuple[int, dict[str, str], bytes | float]:
        """(status, headers, body) to answer with; a float instead of a body: trickle the answer."""
        name = path.split("?", 1)[0].removeprefix("/push/") if path.startswith("/push/") else None
        ttl_header, urgency, topic = headers.get("TTL"), headers.get("Urgency"), headers.get("Topic")
        ttl = int(ttl_header) if ttl_header is not None and ttl_header.isdigit() else None
        vapid_sub = None
        payload = None
        try:
            if name is None or "/" in name or not name:
                raise _Refused(404, f"no such resource: {path}")
            vapid_sub = self._check_vapid(headers.get("Authorization"), at)
            if ttl is None:
                raise _Refused(400, f"TTL header missing or not a non-negative integer: {ttl_header!r}")
            if urgency is not None and urgency not in URGENCIES:
                raise _Refused(400, f"Urgency must be one of {sorted(URGENCIES)}: {urgency!r}")
            if topic is not None and not _TOPIC.fullmatch(topic):
                raise _Refused(400, f"Topic must be 1-32 base64url characters: {topic!r}")
            with self._lock:
                subscription = self._subscriptions.get(name)
            if subscription is None:
                raise _Refused(404, f"no subscription {name!r}")
            if len(body) > MAX_BODY:
                raise _Refused(413, f"body of {len(body)} bytes is over {MAX_BODY}")
            if (headers.get("Content-Encoding") or "").strip().lower() != "aes128gcm":
                raise _Refused(400, f"Content-Encoding must be aes128gcm: {headers.get('Content-Encoding')!r}")
            try:
                plaintext = http_ece.decrypt(
                    body,
                    private_key=subscription.private_key,
                    auth_secret=subscription.auth_secret,
                    version="aes128gcm",
                )
            except Exception as exc:  # noqa: BLE001 - whatever fails to decrypt is the sender's error
                raise _Refused(400, f"body does not decrypt: {exc!r}") from None
        except _Refused as refused:
            self._record(
                Received(name or path, topic, ttl, urgency, None, vapid_sub, at, refused.status, refused.error)
            )
            return refused.status, {}, b""
        if not self.count_only:
            try:
                payload = json.loads(plaintext)
            except ValueError:
                payload = None
        with self._lock:
            answers = self._answers.get(name)
            answer = answers.popleft() if answers else 201
        if isinstance(answer, tuple) and answer[0] == "trickle":
            with self._lock:
                self._trickling[(path, at)] = Received(name, topic, ttl, urgency, payload, vapid_sub, at, 201)
            return 201, {}, float(answer[1])
        if isinstance(answer, tuple) and answer[0] == "redirect":
            status = answer[2] if len(answer) > 2 else 302
            self._record(Received(name, topic, ttl, urgency, payload, vapid_sub, at, status))
            return status, {"Location": answer[1]}, b""
        if isinstance(answer, tuple) and answer[0] == "say":
            self._record(Received(name, topic, ttl, urgency, payload, vapid_sub, at, answer[1]))
            return answer[1], {"Content-Type": "text/plain"}, answer[2].encode()
        if isinstance(answer, tuple):
            time.sleep(answer[1])
            answer = 201
        self._record(Received(name, topic, ttl, urgency, payload, vapid_sub, at, answer))
        if answer == 201:
            return 201, {"Location": f"{self.base_url}/message/{uuid.uuid4()}"}, b""
        return answer, {}, b""

    def _trickled(self, path: str, at: float, complete: bool) -> None:
        with self._lock:
            message = self._trickling.pop((path, at))
        if not complete:
            message = dataclasses.replace(message, status=599, error="client hung up mid-answer")
        self._record(message)

    def _record(self, message: Received) -> None:
        with self._arrived:
            self.received.append(message)
            if message.status == 201:
                self._successes += 1
                self._arrived.notify_all()

    def _check_vapid(self, authorization: str | None, now: float) -> str:
        """The token's sub, or _Refused. RFC 8292: 401 when absent, 403 when invalid."""
        if not authorization:
            raise _Refused(401, "no Authorization header")
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() != "vapid":
            raise _Refused(401, f"Authorization scheme is not vapid: {scheme!r}")
        params = {}
        for part in rest.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep:
                raise _Refused(400, f"malformed vapid parameter: {part.strip()!r}")
            params[key.strip().lower()] = value.strip()
        token, public = params.get("t"), params.get("k")
        if not token or not public:
            raise _Refused(400, "vapid needs t=<jwt> and k=<public key>")
        try:
            key_bytes = _b64url_decode(public)
        except (ValueError, binascii.Error):
            raise _Refused(400, "vapid k= is not base64url") from None
        with self._lock:
            cached = self._verified_tokens.get(token)
        if cached is not None and cached[0] == key_bytes:
            claims = cached[1]
        else:
            claims = self._verify_jwt(token, key_bytes)
            with self._lock:
                if len(self._verified_tokens) > 10_000:
                    self._verified_tokens.clear()
                self._verified_tokens[token] = (key_bytes, claims)
        sub = claims.get("sub")
        if claims.get("aud") != self.base_url:
            raise _Refused(403, f"JWT aud {claims.get('aud')!r} is not {self.base_url!r}", sub)
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= now:
            raise _Refused(403, f"JWT exp {exp!r} is missing or past", sub)
        if exp > now + MAX_TOKEN_LIFETIME:
            raise _Refused(403, f"JWT exp {exp!r} is more than 24 h away", sub)
        if not isinstance(sub, str) or not sub:
            raise _Refused(403, "JWT has no sub claim", None)
        return sub

    def _verify_jwt(self, token: str, key_bytes: bytes) -> dict:
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            raise _Refused(400, "vapid t= is not a JWT") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise _Refused(400, "vapid t= is not a JWT")
        if self._expected_key is not None and key_bytes != self._expected_key:
            raise _Refused(403, "vapid k= is not the application server key this subscription was made with")
        if header.get("alg") != "ES256":
            raise _Refused(403, f"JWT alg must be ES256: {header.get('alg')!r}")
        if len(signature) != 64:
            raise _Refused(403, "JWT signature is not 64 bytes (r || s)")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes)
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except ValueError:
            raise _Refused(403, "vapid k= is not a P-256 public key") from None
        except InvalidSignature:
            raise _Refused(403, "JWT signature does not verify against k=") from None
        return claims
