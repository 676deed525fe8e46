"""The parent's side of one disc's acquisition in a process of its own (child.py, `python -m
acquire.batch.child JOB.json`): its progress lines, its time budget, and a hung drive.

A process per disc, not a thread: a drive whose firmware has hung blocks the command (an SG_IO
ioctl, the simulated drive's `hang` event) beyond the reach of any Python code in that process;
only ending the process frees the batch. The child dies with its parent (PR_SET_PDEATHSIG), so a
kill -9 of the batch never leaves an acquisition writing behind a restarted one, and it takes a
lock on the disc's folder besides. Its result is a JSON file, written whole (write, fsync, rename).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

RESULT = "result.json"
JOB = "job.json"
STARTUP_S = 120.0               # a child has this long to start (import, lock) before the stall timer runs
GRACE_S = 10.0                  # after SIGTERM (the budget), this long to close its record, then SIGKILL


def write_json(path: Path, data: dict) -> None:
    """A JSON file replaced whole: write, fsync, rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        proc = subprocess.Popen([sys.executable, "-m", "acquire.batch.child", str(folder / JOB)],
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
        elif termed is None and seen["drive"] and ((last is None and now - started > STARTUP_S + stall_s)
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

