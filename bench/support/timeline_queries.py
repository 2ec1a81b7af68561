"""Queries per request, counted in-process: `python -m bench.support.timeline_queries` (bench settings).

Reads {"paths": {name: [path, token]}, "repeat": n} on stdin; sends each request through Django's test
client (the whole middleware and view stack, no server) under CaptureQueriesContext, twice; prints
{name: {"queries": n (first request), "queries_again": n (second), "ms_first": the first request in-process,
"status": code, "ms_min": fastest of `repeat` more runs}} on stdout. (The triage's first request computes every
patient's summary; the second reads them.)
"""

import json
import sys
import time

import django

django.setup()

from django.core import signals  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def main() -> int:
    spec = json.load(sys.stdin)
    # Django empties the query log when a request starts: keep it, so the capture sees the request's queries.
    signals.request_started.disconnect(reset_queries)
    client = Client(HTTP_HOST="127.0.0.1")
    out = {}
    for name, (path, token) in spec["paths"].items():
        headers = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT": "application/json"} if token else {}
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, **headers)
        first_ms = (time.perf_counter() - started) * 1000
        queries = [q["sql"] for q in captured.captured_queries]  # read now: later requests may reset the log
        with CaptureQueriesContext(connection) as again:
            client.get(path, **headers)
        queries_again = len(again.captured_queries)  # read now, as above
        timings = []
        for _ in range(spec.get("repeat", 5)):
            started = time.perf_counter()
            client.get(path, **headers)
            timings.append((time.perf_counter() - started) * 1000)
        out[name] = {
            "queries": len(queries),
            "queries_again": queries_again,
            "ms_first": round(first_ms, 2),
            "status": response.status_code,
            "ms_min": round(min(timings), 2),
            "sql": [sql[:300] for sql in queries] if spec.get("show_sql") else [],
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
