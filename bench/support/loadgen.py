"""Load generator: `python -m bench.support.loadgen` reads one phase as JSON on stdin, prints the result.

Pure standard library, run as its own process so its work does not share a GIL with the driver.
Each of `concurrency` threads keeps one HTTP/1.1 keep-alive connection and sends requests back to
back (closed loop) with the token of its own patient. Requests that start during the warm-up, or
do not finish before the deadline, are not counted in throughput and latency; errors anywhere in
the phase are counted.

Input:  {"host", "port", "concurrency", "warmup", "duration", "method", "path", "body", "expect", "tokens"}
        path may contain "{uuid}" (a fresh uuid4 per request); body is null or "checkin".
Output: {"requests", "served", "errors", "seconds", "latencies_ms", "error_samples"}
        (served: every response in the phase, warm-up and tail included, for CPU per request)
"""

import http.client
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime


def checkin_body() -> bytes:
    return json.dumps({"pain": 5, "occurred_at": datetime.now(UTC).isoformat()}).encode()


BODIES = {None: lambda: None, "checkin": checkin_body}


def run_phase(spec: dict) -> dict:
    start = time.perf_counter() + 0.05
    measure_from = start + spec["warmup"]
    deadline = measure_from + spec["duration"]
    make_body = BODIES[spec["body"]]
    tokens = spec["tokens"]
    results = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        latencies: list[float] = []
        errors = served = 0
        samples: list[str] = []
        headers = {"Authorization": f"Token {tokens[index % len(tokens)]}", "Accept": "application/json"}
        if spec["body"] is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=30)
        while time.perf_counter() < start:
            time.sleep(0.001)
        while True:
            t0 = time.perf_counter()
            if t0 >= deadline:
                break
            path = spec["path"].replace("{uuid}", str(uuid.uuid4()))
            try:
                conn.request(spec["method"], path, body=make_body(), headers=headers)
                response = conn.getresponse()
                payload = response.read()
                ok = response.status == spec["expect"] and payload
                problem = None if ok else f"{response.status} {payload[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=30)
                problem = f"{type(exc).__name__}: {exc}"
            t1 = time.perf_counter()
            served += 1
            if problem is not None:
                errors += 1
                if len(samples) < 3:
                    samples.append(problem)
            elif t0 >= measure_from and t1 <= deadline:
                latencies.append((t1 - t0) * 1000)
        conn.close()
        with lock:
            results.append((latencies, errors, samples, served))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(spec["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [ms for lat, *_ in results for ms in lat]
    return {
        "requests": len(latencies),
        "served": sum(served for *_, served in results),
        "errors": sum(err for _, err, *_ in results),
        "seconds": spec["duration"],
        "latencies_ms": [round(ms, 3) for ms in latencies],
        "error_samples": [s for _, _, samples, _ in results for s in samples][:5],
    }


def main() -> None:
    spec = json.load(sys.stdin)
    json.dump(run_phase(spec), sys.stdout)


if __name__ == "__main__":
    main()
