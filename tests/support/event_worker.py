"""One process writing a session, step by step, for the multi-process session tests.

Run it by path (it imports only `merkle`):

    event_worker.py DB [--command NAME]

It starts a session in the database `DB` with a `SessionWriter` behind an
`EventBus`, then obeys its stdin, one command a line:

- `emit N`: emit N `step` events, data `{"index": i}` (i counts from 1 over
  the whole session); the background thread commits them soon after.
- `end`: end the session (`completed`), which commits everything, and leave.

Protocol: one JSON document per line on stdout.

1. `{"ready": true, "session": ID, "pid": PID}` once `session_started` is committed.
2. `{"emitted": I}` after each `emit`, I being the last index emitted.
3. `{"ended": true}` after `end` (exit status 0).

At the end of stdin without `end` it leaves without ending the session. A test
that wants an interrupted session kills it (SIGKILL) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from merkle.store import open_store
from merkle.telemetry.bus import EventBus
from merkle.telemetry.writer import SessionWriter


def say(document: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed at once (the test reads it as it comes)."""
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--command", default="worker")
    args = parser.parse_args(argv)

    writer = SessionWriter(partial(open_store, args.database), command=args.command)
    bus = EventBus(writer)
    started = writer.start({"pid": os.getpid()})
    say({"ready": True, "session": started.session, "pid": os.getpid()})
    index = 0
    try:
        for line in sys.stdin:
            verb, _, rest = line.strip().partition(" ")
            if verb == "emit":
                for _ in range(int(rest)):
                    index += 1
                    bus.emit("step", {"index": index})
                say({"emitted": index})
            elif verb == "end":
                writer.end("completed")
                say({"ended": True})
                return 0
            else:
                raise SystemExit(f"unknown command {line!r}")
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
