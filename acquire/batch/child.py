"""One disc's acquisition, in a process of its own: `python -m acquire.batch.child JOB.json`.

Through `acquire.api.acquire_image`, then the reports. Its progress goes to stdout as JSON lines
(worker.py watches them), its result to result.json, written whole (write, fsync, rename). It dies
with its parent (PR_SET_PDEATHSIG), so a kill -9 of the batch never leaves an acquisition writing
behind a restarted one, and it locks the disc's folder besides.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .worker import RESULT, write_json

PR_SET_PDEATHSIG = 1            # prctl(2)


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):     # not Linux: the folder lock still keeps two writers apart
        pass
    if os.getppid() != parent:            # the parent died before prctl took effect
        os._exit(1)


def _emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _acquire(spec: dict) -> dict:
    from ..api import ImageOptions, acquire_image
    from ..errors import AcquireError

    folder = Path(spec["folder"])
    o = spec["options"]
    options = ImageOptions(case_id=o.get("case"), evidence_id=o.get("evidence"), examiner=o.get("examiner"),
                           notes=o.get("notes"), retries=o.get("retries", 1), trim=not o.get("no_trim"),
                           scrape=not o.get("no_scrape"), speed=o.get("speed"),
                           strategy=o.get("strategy") or "adaptive", second_read=bool(o.get("second_read")),
                           command=spec.get("command", ""))

    def progress(p) -> None:
        _emit(phase=p.phase, pass_no=p.pass_no, sectors=p.sectors, finished=p.finished, bad=p.bad,
              untried=p.untried, drive_time_s=round(p.drive_time_s, 3))

    try:
        outcome = acquire_image(spec["device"], folder / spec["image"], options, on_progress=progress)
    except AcquireError as exc:
        return {"exit_code": exc.exit_code, "error": str(exc), "error_type": type(exc).__name__}
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return {"exit_code": 4 if full else 1, "error_type": "OutOfSpace" if full else "OSError",
                "error": f"{'disk full' if full else 'cannot use'} {exc.filename or ''} ({exc.strerror or exc})".replace("  ", " ")}
    result: dict[str, Any] = {"exit_code": outcome.exit_code, "outcome": outcome.as_json()}
    if outcome.status != "interrupted":
        _emit(phase="report")           # the drive's part is over: no stall from here on
        result["reports"] = _reports(outcome.record, folder, spec["image"])
    return result


def _reports(record: Path, folder: Path, image: str) -> list[str] | str:
    from ..report import write_report

    names = []
    try:
        for suffix in (".html", ".json"):
            out = folder / f"{Path(image).stem}.report{suffix}"
            write_report(record, out)
            names.append(out.name)
    except Exception as exc:           # noqa: BLE001 - a report that fails leaves the image and record good
        return f"report failed: {exc}"
    return names


def _terminated(signum, frame) -> None:
    from ..errors import Interrupted

    raise Interrupted("terminated by a signal before the run began", hint="run the batch again to resume")


def child_main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    _die_with_parent(int(spec["parent"]))
    signal.signal(signal.SIGTERM, _terminated)   # until the run installs its own: a clean stop, a result
    folder = spec_path.parent
    lock = open(folder / ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)     # a leftover child of a killed batch: wait for it to die
    _emit(phase="start")
    try:
        result = _acquire(spec)
    except Exception as exc:             # noqa: BLE001 - one disc's bug must reach the batch as a verdict
        import traceback
        traceback.print_exc()
        result = {"exit_code": 1, "error_type": type(exc).__name__, "error": f"internal error: {exc!r}"}
    write_json(folder / RESULT, result)
    return int(result["exit_code"])



if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
