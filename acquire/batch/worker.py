"""One disc's acquisition in a process of its own (`python -m acquire.batch.worker JOB.json`), and
the parent's side that watches it: its progress lines, its time budget, and a hung drive.

A process per disc, not a thread: a drive whose firmware has hung blocks the command (an SG_IO
ioctl, the simulated drive's `hang` event) beyond the reach of any Python code in that process;
only ending the process frees the batch. The child dies with its parent (PR_SET_PDEATHSIG), so a
kill -9 of the batch never leaves an acquisition writing behind a restarted one, and it takes a
lock on the disc's folder besides. Its result is a JSON file, written whole (write, fsync, rename).
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PR_SET_PDEATHSIG = 1            # prctl(2)
STARTUP_S = 120.0               # a child has this long to start (import, lock) before the stall timer runs
GRACE_S = 10.0                  # after SIGTERM (the budget), this long to close its record, then SIGKILL
RESULT = "result.json"
JOB = "job.json"


# --- the child ------------------------------------------------------------------------------------

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


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


def child_main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    _die_with_parent(int(spec["parent"]))
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


# --- the parent -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DiscRun:
    exit_code: int | None
    result: dict | None
    stopped: str | None = None        # why the batch ended the process: a reason sentence, or None


def run_disc(spec: dict, folder: Path, *, budget_s: float, stall_s: float,
             on_progress: Callable[[dict], None] = lambda p: None,
             should_stop: Callable[[], bool] = lambda: False) -> DiscRun:
    """Run one disc's child and watch it: SIGTERM when the time budget is used up (the run closes
    its record, resumable), SIGKILL when the drive shows no progress for `stall_s` (hung)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULT).unlink(missing_ok=True)
    write_json(folder / JOB, {**spec, "folder": str(folder), "parent": os.getpid()})
    with open(folder / "acquire.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "acquire.batch.worker", str(folder / JOB)],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    seen = {"last": None, "drive": True}

    def read() -> None:
        for line in proc.stdout:
            try:
                p = json.loads(line)
            except ValueError:
                continue
            seen["last"] = time.monotonic()
            if p.get("phase") == "report":
                seen["drive"] = False
            on_progress(p)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started, stopped, termed = time.monotonic(), None, None
    while proc.poll() is None:
        time.sleep(0.05)
        now = time.monotonic()
        last = seen["last"]
        if termed is None and should_stop():          # the batch is stopping: close the record, resumable
            termed = now
            proc.send_signal(signal.SIGTERM)
        elif termed is None and now - started > budget_s:
            stopped, termed = f"timed out: the time budget of {budget_s:g} s was used up (resumable)", now
            proc.send_signal(signal.SIGTERM)
        elif termed is not None and now - termed > GRACE_S:
            proc.kill()
        elif seen["drive"] and ((last is None and now - started > STARTUP_S + stall_s)
                                or (last is not None and now - last > stall_s)):
            stopped = f"hung: the drive made no progress for {stall_s:g} s; the acquisition was ended"
            proc.kill()
    proc.wait()
    reader.join(1.0)
    proc.stdout.close()
    result = None
    try:
        result = json.loads((folder / RESULT).read_text())
    except (OSError, ValueError):
        pass
    return DiscRun(proc.returncode, result, stopped)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
