"""The loopback WebPush receiver (tests/support/push_receiver.py) in a process of its own, for bench/dispatch.py.

    python -m bench.support.dispatch_receiver <vapid public key>

Prints one JSON line {"base_url", "ca_file", "pid"}, then answers one JSON command per stdin line with
one JSON line on stdout:

    {"op": "subs", "prefix": "b", "n": 2000}      -> {"subs": [[name, endpoint, p256dh, auth], ...]}
    {"op": "reset"}                               -> {"ok": true}   (forget what was received)
    {"op": "wait", "count": 2000, "timeout": 60}  -> {"delivered", "refused", "first_at", "last_at", "errors"}
    {"op": "arrivals"}                            -> {"arrivals": [[name, at], ...]}  (201s only)

Closing stdin stops it. Runs with count_only=True: every message is still VAPID-checked and decrypted.
"""

import collections
import json
import sys

from tests.support.push_receiver import PushReceiver


def _reply(obj) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _summary(receiver: PushReceiver, count: int, timeout: float) -> dict:
    ok = receiver.wait_for(count, timeout)
    with receiver._lock:
        refused = [r for r in receiver.received if r.status != 201]
    errors = collections.Counter(f"{r.status} {r.error[:120]}" for r in refused)
    return {
        "delivered": len(ok),
        "refused": len(refused),
        "first_at": min((r.at for r in ok), default=None),
        "last_at": max((r.at for r in ok), default=None),
        "errors": errors.most_common(3),
    }


def main() -> None:
    receiver = PushReceiver(vapid_public_key=sys.argv[1], count_only=True)
    with receiver:
        import os

        _reply({"base_url": receiver.base_url, "ca_file": receiver.ca_file, "pid": os.getpid()})
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            op = command["op"]
            if op == "subs":
                subs = []
                for i in range(int(command["n"])):
                    name = f"{command['prefix']}{i}"
                    sub = receiver.subscription(name)
                    subs.append([name, sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"]])
                _reply({"subs": subs})
            elif op == "reset":
                with receiver._lock:
                    receiver.received.clear()
                    receiver._successes = 0
                _reply({"ok": True})
            elif op == "wait":
                _reply(_summary(receiver, int(command["count"]), float(command["timeout"])))
            elif op == "arrivals":
                with receiver._lock:
                    arrivals = [[r.name, r.at] for r in receiver.received if r.status == 201]
                _reply({"arrivals": arrivals})
            else:
                _reply({"error": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
