"""Check-in API under concurrent load, through gunicorn and PostgreSQL, against a plain-Django baseline.

    .venv/bin/python bench/api.py [--rounds 5] [--duration 2] [--concurrency 16] [--workers 2] [--threads 4]

Steps: drop and recreate the database `backcare_bench`, migrate it and load the content (bench
settings: bench/support/settings.py); start gunicorn (gthread) on a free port; register one
patient per client thread, log in (knox token) and open an episode; seed 55 check-ins each so
the list is a full page; then measure four scenarios, interleaved over several rounds in
alternating order so drift and noise hit each of them alike:

    put            PUT /api/checkins/<uuid4>/           {"pain": 5, "occurred_at": now}  -> 201
    put_baseline   PUT /bench/baseline/checkins/<uuid4>/ (plain Django, same insert)      -> 201
    list           GET /api/checkins/                   (cursor page of 50)              -> 200
    list_baseline  GET /bench/baseline/checkins/        (plain Django, same 50 rows)     -> 200

A warm-up round (1 s per scenario) runs first and is not counted. Clients: a separate process
(bench/support/loadgen.py), one keep-alive connection and one patient per thread.

Prints a table (throughput, latency, errors, and CPU per request of the gunicorn workers and of
the PostgreSQL backends), then as the last line a JSON object of numbers: put_ratio and
list_ratio are backcare's throughput over the baseline's; *_ratio_median_round is the median of
the per-round paired ratios and *_cpu_ratio the baseline's CPU per request over backcare's, both
far less sensitive to other load on the machine. Exits 1 if any request failed; the target
(ratio >= 0.6) is reported, not enforced.
"""

import argparse
import json
import signal
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import harness  # noqa: E402

TARGET_RATIO = 0.6
PASSWORD = "Bench-Spasm-Pass-4821"
SEED_CHECKINS = 55
HOST = "127.0.0.1"

# name, method, path, body, expected status
SCENARIOS = [
    ("put", "PUT", "/api/checkins/{uuid}/", "checkin", 201),
    ("put_baseline", "PUT", "/bench/baseline/checkins/{uuid}/", "checkin", 201),
    ("list", "GET", "/api/checkins/", None, 200),
    ("list_baseline", "GET", "/bench/baseline/checkins/", None, 200),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def now_iso(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def expect(status: int, body, wanted: int, what: str):
    if status != wanted:
        raise RuntimeError(f"{what}: expected {wanted}, got {status}: {body}")
    return body


def make_patient(port: int, index: int) -> str:
    """Register, log in and open an episode; returns the knox token."""
    email = f"bench-patient-{index}@example.com"
    status, body = harness.request(HOST, port, "POST", "/api/auth/register/", {"email": email, "password": PASSWORD})
    expect(status, body, 201, "register")
    status, body = harness.request(HOST, port, "POST", "/api/auth/login/", {"email": email, "password": PASSWORD})
    token = expect(status, body, 200, "login")["token"]
    episode = {"onset": now_iso(-timedelta(hours=1)), "trigger": "lifting"}
    status, body = harness.request(HOST, port, "POST", "/api/episodes/", episode, token=token)
    expect(status, body, 201, "open episode")
    return token


def seed(port: int, token: str) -> None:
    for _ in range(SEED_CHECKINS):
        body = {"pain": 5, "occurred_at": now_iso()}
        status, reply = harness.request(HOST, port, "PUT", f"/api/checkins/{uuid.uuid4()}/", body, token=token)
        expect(status, reply, 201, "seed check-in")


def check_baseline_matches(port: int, token: str) -> None:
    """The baseline must answer what the API answers, or the comparison means nothing."""
    _, api = harness.request(HOST, port, "GET", "/api/checkins/", token=token)
    _, base = harness.request(HOST, port, "GET", "/bench/baseline/checkins/", token=token)
    if api["results"] != base["results"] or len(api["results"]) != 50:
        raise RuntimeError("baseline list differs from GET /api/checkins/")
    if bool(api["next"]) != bool(base["next"]):
        raise RuntimeError("baseline list disagrees on the next page")
    body = {"pain": 5, "occurred_at": now_iso()}
    status, api = harness.request(HOST, port, "PUT", f"/api/checkins/{uuid.uuid4()}/", body, token=token)
    status_base, base = harness.request(HOST, port, "PUT", f"/bench/baseline/checkins/{uuid.uuid4()}/", body, token)
    expect(status, api, 201, "PUT check")
    expect(status_base, base, 201, "baseline PUT check")
    strip = {"id", "recorded_at"}
    if {k: v for k, v in api.items() if k not in strip} != {k: v for k, v in base.items() if k not in strip}:
        raise RuntimeError(f"baseline PUT answers differently:\n{api}\n{base}")


def measure(args: argparse.Namespace) -> tuple[dict, int]:
    harness.reset_database(args.db)
    log(f"database {args.db}: migrating, loading content")
    harness.manage(args.db, "migrate", "--noinput")
    harness.manage(args.db, "load_content")
    updates_before = token_updates(args.db)

    with harness.gunicorn(args.db, workers=args.workers, threads=args.threads) as (port, master):
        log(f"gunicorn on :{port} ({args.workers} workers x {args.threads} threads, gthread)")
        with ThreadPoolExecutor(args.concurrency) as pool:
            tokens = list(pool.map(lambda i: make_patient(port, i), range(args.concurrency)))
            log(f"{len(tokens)} patients; seeding {SEED_CHECKINS} check-ins each")
            list(pool.map(lambda token: seed(port, token), tokens))
        # Fresh planner statistics, so no autoanalyze flips query plans in the middle of a phase.
        harness.db_query(args.db, "ANALYZE")
        check_baseline_matches(port, tokens[0])

        totals = {
            name: {
                "latencies": [],
                "errors": 0,
                "seconds": 0.0,
                "samples": [],
                "round_rps": [],
                "served": 0,
                "web": 0.0,
                "db": 0.0,
            }
            for name, *_ in SCENARIOS
        }
        for round_no in range(-1, args.rounds):
            # Round -1 warms every scenario up (connections, code paths, caches) and is not counted.
            order = SCENARIOS if round_no % 2 == 0 else list(reversed(SCENARIOS))
            for name, method, path, body, status in order:
                spec = {
                    "host": HOST,
                    "port": port,
                    "concurrency": args.concurrency,
                    "warmup": args.warmup,
                    "duration": args.duration,
                    "method": method,
                    "path": path,
                    "body": body,
                    "expect": status,
                    "tokens": tokens,
                }
                if round_no < 0:
                    spec["duration"] = 1.0
                cpu_before = harness.cpu_snapshot(master, args.db)
                result = harness.run_phase(spec)
                cpu = harness.cpu_used(cpu_before, harness.cpu_snapshot(master, args.db))
                if round_no < 0:
                    if result["errors"]:
                        raise RuntimeError(f"warm-up of {name} failed: {result['error_samples']}")
                    continue
                total = totals[name]
                total["latencies"] += result["latencies_ms"]
                total["errors"] += result["errors"]
                total["seconds"] += result["seconds"]
                total["samples"] += result["error_samples"]
                total["round_rps"].append(result["requests"] / result["seconds"])
                total["served"] += result["served"]
                total["web"] += cpu["web"]
                total["db"] += cpu["db"]
                log(
                    f"round {round_no + 1}/{args.rounds} {name:14} "
                    f"{result['requests'] / result['seconds']:7.1f} req/s  errors {result['errors']}"
                )
    time.sleep(0.5)  # let the closed connections' statistics reach pg_stat_user_tables
    return totals, token_updates(args.db) - updates_before


def token_updates(db: str) -> int:
    rows = harness.db_query(db, "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'knox_authtoken'")
    return int(rows[0][0]) if rows else 0


def report(totals: dict, knox_updates: int, args: argparse.Namespace) -> int:
    stats = {}
    for name, total in totals.items():
        lat = total["latencies"]
        served = total["served"] or 1
        stats[name] = {
            "requests": len(lat),
            "rps": len(lat) / total["seconds"] if total["seconds"] else 0.0,
            "p50": harness.percentile(lat, 0.50),
            "p95": harness.percentile(lat, 0.95),
            "errors": total["errors"],
            "web_cpu": total["web"] * 1000 / served,
            "db_cpu": total["db"] * 1000 / served,
        }
    print(
        f"{'scenario':16}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}"
        f"{'web cpu ms/req':>16}{'db cpu ms/req':>15}"
    )
    for name, row in stats.items():
        print(
            f"{name:16}{row['requests']:>10}{row['rps']:>10.1f}{row['p50']:>10.2f}{row['p95']:>10.2f}{row['errors']:>8}"
            f"{row['web_cpu']:>16.2f}{row['db_cpu']:>15.2f}"
        )
    errors = sum(row["errors"] for row in stats.values())
    ratios, medians, cpu_ratios = {}, {}, {}
    for kind in ("put", "list"):
        base = stats[f"{kind}_baseline"]
        ratios[kind] = stats[kind]["rps"] / base["rps"] if base["rps"] else 0.0
        # Each round measures a scenario right next to its baseline: the median of those paired
        # ratios shrugs off a burst of outside load that hit one phase.
        rounds = zip(totals[kind]["round_rps"], totals[f"{kind}_baseline"]["round_rps"], strict=True)
        paired = [a / b for a, b in rounds if b]
        medians[kind] = statistics.median(paired) if paired else 0.0
        # CPU per request (gunicorn workers + PostgreSQL backends) hardly depends on outside load:
        # on a CPU-bound box, baseline cpu / backcare cpu is the throughput ratio to expect.
        own = stats[kind]["web_cpu"] + stats[kind]["db_cpu"]
        cpu_ratios[kind] = (base["web_cpu"] + base["db_cpu"]) / own if own else 0.0
        verdict = "meets" if ratios[kind] >= TARGET_RATIO else "BELOW"
        print(
            f"{kind}: backcare/baseline throughput {ratios[kind]:.2f} ({verdict} target {TARGET_RATIO}); "
            f"per round {', '.join(f'{r:.2f}' for r in paired)}; baseline/backcare cpu per request {cpu_ratios[kind]:.2f}"
        )
    print(f"knox token expiry writes (auto-refresh) during the run: {knox_updates}")
    for name, total in totals.items():
        for sample in total["samples"]:
            print(f"error in {name}: {sample}", file=sys.stderr)
    out = {
        "put_ratio": round(ratios["put"], 3),
        "list_ratio": round(ratios["list"], 3),
        "put_ratio_median_round": round(medians["put"], 3),
        "list_ratio_median_round": round(medians["list"], 3),
        "put_cpu_ratio": round(cpu_ratios["put"], 3),
        "list_cpu_ratio": round(cpu_ratios["list"], 3),
        "target_ratio": TARGET_RATIO,
    }
    for name, row in stats.items():
        out[f"{name}_rps"] = round(row["rps"], 1)
        out[f"{name}_p50_ms"] = round(row["p50"], 2)
        out[f"{name}_p95_ms"] = round(row["p95"], 2)
        out[f"{name}_requests"] = row["requests"]
        out[f"{name}_web_cpu_ms"] = round(row["web_cpu"], 3)
        out[f"{name}_db_cpu_ms"] = round(row["db_cpu"], 3)
    out.update(
        errors=errors,
        knox_token_updates=knox_updates,
        concurrency=args.concurrency,
        workers=args.workers,
        threads=args.threads,
        seconds_per_scenario=round(args.rounds * args.duration, 1),
    )
    print(json.dumps(out))
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="backcare_bench", help="database to drop, recreate and use")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds over the four scenarios")
    parser.add_argument("--duration", type=float, default=2.0, help="measured seconds per scenario per round")
    parser.add_argument("--warmup", type=float, default=0.4, help="unmeasured seconds before each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (one patient each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()
    # A plain kill must still run the clean-up that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    totals, knox_updates = measure(args)
    return report(totals, knox_updates, args)


if __name__ == "__main__":
    sys.exit(main())
