"""The sender's HTTP: one pooled requests.Session per process whose connections check where they connect,
and a total deadline per push.

Connect-time check: a connection resolves its host itself and connects only to addresses
`endpoints.address_allowed` accepts (public unicast; loopback only with BACKCARE_PUSH_ALLOW_LOOPBACK), so a
name on the allowlist that resolves to an internal address is refused before any packet is sent to it. TLS
still verifies the certificate against the host name (SNI and hostname checks use the name, not the IP).

Total deadline: requests' timeout is per socket operation, so a server answering one byte every few
seconds could hold a send for ever. `deadline(seconds)` bounds the whole push (connect, TLS, send, answer):
each socket the push uses is registered with one watchdog thread, which shuts it down when the time is up,
so whatever read or write is blocked returns at once; the caller then sees `Deadline.expired`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from backcare.push.endpoints import address_allowed

# --- the deadline --------------------------------------------------------------------------------------


class Deadline:
    """One push's time limit; sockets attached to it are shut down when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.refused = ""  # why the connect-time check refused (detail for the log), if it did
        self._lock = threading.Lock()
        self._watches: list[socket.socket] = []
        self._done = False

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.001)

    def attach(self, sock: socket.socket | None) -> None:
        """Watch this socket (a duplicate of its descriptor: closing it elsewhere cannot hand the number to
        another connection that the watchdog would then cut)."""
        if sock is None:
            return
        try:
            watch = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with self._lock:
            if self._done:
                watch.close()
                return
            self._watches.append(watch)
            expired = self.expired
        if expired:
            self._cut(watch)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            watches = list(self._watches)
        for watch in watches:
            self._cut(watch)

    def close(self) -> None:
        with self._lock:
            self._done = True
            watches, self._watches = self._watches, []
        for watch in watches:
            watch.close()

    @staticmethod
    def _cut(watch: socket.socket) -> None:
        with contextlib.suppress(OSError):
            watch.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread per process that expires deadlines in time order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="push-deadline", daemon=True)
        self._thread.start()

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _at, _seq, deadline = heapq.heappop(self._heap)
            deadline.expire()  # a no-op for one that ended in time


_watchdog_lock = threading.Lock()
_watchdog: _Watchdog | None = None
_current = threading.local()


def _the_watchdog() -> _Watchdog:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog._pid != os.getpid():  # threads do not survive a fork
            _watchdog = _Watchdog()
        return _watchdog


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound everything this thread's pushes do inside the block to `seconds` in total."""
    limit = Deadline(seconds)
    _the_watchdog().add(limit)
    previous = getattr(_current, "deadline", None)
    _current.deadline = limit
    try:
        yield limit
    finally:
        _current.deadline = previous
        limit.close()


def current_deadline() -> Deadline | None:
    return getattr(_current, "deadline", None)


# --- connections that check where they connect ---------------------------------------------------------


class GuardedHTTPSConnection(HTTPSConnection):
    """Resolves its host, refuses addresses that are not allowed, and puts its sockets under the deadline."""

    def _new_conn(self) -> socket.socket:
        limit = current_deadline()
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        allowed = [info for info in infos if address_allowed(info[4][0])]
        if not allowed:
            refused = ", ".join(sorted({info[4][0] for info in infos}))
            if limit is not None:
                limit.refused = f"{self.host} resolves to {refused}, not a public address"
            raise NewConnectionError(self, f"refused: {self.host} resolves to no public address")
        error: OSError | None = None
        for family, kind, proto, _name, address in allowed:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                timeout = self.timeout if isinstance(self.timeout, int | float) else None
                if limit is not None:
                    limit.attach(sock)
                    timeout = min(timeout, limit.remaining()) if timeout else limit.remaining()
                sock.settimeout(timeout)
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error

    def request(self, *args, **kwargs) -> None:  # type: ignore[override]
        limit = current_deadline()
        if limit is not None:
            limit.attach(self.sock)  # a pooled connection: its socket (TLS) is under this push's deadline
        super().request(*args, **kwargs)


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": GuardedHTTPSConnectionPool}


class _RefuseAdapter(HTTPAdapter):
    def send(self, request, *args, **kwargs):
        raise requests.exceptions.InvalidURL("refusing a plain-HTTP push endpoint")


# --- one session per process ---------------------------------------------------------------------------

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def http_session(*, pool_size: int) -> requests.Session:
    """The process's shared session. Rebuilt after a fork (Celery's prefork children)."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is not None and _session_pid == pid:
        return _session
    with _session_lock:
        if _session is None or _session_pid != pid:
            session = requests.Session()
            # No proxy variables scanned per request, and none may route a push elsewhere.
            session.trust_env = False
            session.mount("https://", GuardedAdapter(pool_connections=32, pool_maxsize=pool_size, max_retries=0))
            # Plain HTTP is refused before any request; make it fail loudly if it ever got here.
            session.mount("http://", _RefuseAdapter())
            _session, _session_pid = session, pid
    return _session


def http_session_reset() -> None:
    """Drop the pooled connections (tests: a receiver went away)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None
