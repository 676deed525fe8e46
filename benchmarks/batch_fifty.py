"""The goal's batch: 50 simulated discs (six damaged, one that does not load, one picked with the
next at once, one on which the drive hangs) on the two drives of a simulated autoloader.

Run 1 goes through uninterrupted. Run 2, on a byte-identical copy of the stack, is killed with
SIGKILL once KILL_AFTER discs have their verdict and another is being imaged (its record holds
sectors), then started again. The figures: each run's wall time, the
discs per minute, the verdicts and piles, whether every disc lies on the pile the manifest says and
its faults call for, whether the two manifests are the same, and whether both batch logs verify.
The discs are 71-134 sectors (fixtures/make_batch_stack.py), so the figure is the batch's own
overhead per disc (a process per disc, the identity check, records, reports, the changer), not
drive time; [timing] sleep_scale makes each simulated second cost SLEEP real ones.

    python benchmarks/batch_fifty.py [--sleep 1.0] [--stall 5] [--kill-after 25] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fixtures"))
sys.path.insert(0, str(ROOT))
from make_batch_stack import fifty  # noqa: E402

from acquire.batch.simchanger import SimChanger  # noqa: E402
from acquire.record import chain  # noqa: E402


def command(root: Path, stall: str) -> list[str]:
    return [sys.executable, "-m", "acquire", "batch", str(root / "queue.csv"), "-o", str(root / "out"),
            "--changer", f"sim:{root / 'changer.toml'}", "--stall", stall, "--json"]


def verdicts(root: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{root / 'out' / 'batch.sqlite'}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'verdict'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def in_progress(root: Path) -> list[str]:
    """The discs whose imaging had started and had no verdict (with a record begun)."""
    conn = sqlite3.connect(f"file:{root / 'out' / 'batch.sqlite'}?mode=ro", uri=True)
    rows = conn.execute("SELECT kind, json_extract(details_json, '$.job') FROM events ORDER BY id").fetchall()
    conn.close()
    done = {job for kind, job in rows if kind == "verdict"}
    return sorted({job for kind, job in rows if kind == "start" and job not in done
                   and (root / "out" / job / f"{job}.iso.custody.sqlite").exists()})


def imaging(root: Path) -> bool:
    """Whether a disc is being imaged: started, no verdict, its record holding sectors."""
    try:
        for job in in_progress(root):
            conn = sqlite3.connect(f"file:{root / 'out' / job / f'{job}.iso.custody.sqlite'}?mode=ro", uri=True)
            try:
                if conn.execute("SELECT COUNT(*) FROM sector_map").fetchone()[0]:
                    return True
            finally:
                conn.close()
    except sqlite3.Error:
        pass
    return False


def resumed(root: Path, job: str) -> bool:
    conn = sqlite3.connect(f"file:{root / 'out' / job / f'{job}.iso.custody.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'resume'").fetchone()[0] > 0
    finally:
        conn.close()


def check(root: Path, stack) -> dict:
    manifest = (root / "out" / "manifest.csv").read_text()
    rows = [line.split(",") for line in manifest.splitlines()[1:]]
    conn = sqlite3.connect(root / "out" / "batch.sqlite")
    findings = chain.verify_connection(conn)
    conn.close()
    on_pile = SimChanger(root / "changer.toml").pile_of()
    return {"rows": len(rows), "right_piles": on_pile == stack.expected_piles(), "log_intact": not findings,
            "manifest": manifest}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sleep", type=float, default=1.0)
    ap.add_argument("--stall", default="5")
    ap.add_argument("--keep", type=Path, help="Build the stacks in this (new) folder and leave them there.")
    ap.add_argument("--kill-after", type=int, default=25, help="Verdicts before the SIGKILL.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        stack = fifty(a, sleep_scale=args.sleep)
        shutil.copytree(a, b)

        started = time.monotonic()
        done = subprocess.run(command(a, args.stall), capture_output=True, text=True)
        run1 = time.monotonic() - started
        summary = json.loads(done.stdout)
        first = check(a, stack)
        print(f"run 1 (uninterrupted): {run1:.1f} s wall, {50 / run1 * 60:.0f} discs/min, exit {done.returncode}")
        print(f"  verdicts {summary['verdicts']}  piles {summary['piles']}")
        print(f"  manifest rows {first['rows']}, every disc on its right pile: {first['right_piles']}, "
              f"batch log verifies: {first['log_intact']}")

        started = time.monotonic()
        proc = subprocess.Popen(command(b, args.stall), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and (verdicts(b) < args.kill_after or not imaging(b)):
            time.sleep(0.01)
        killed_at = verdicts(b)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        open_discs = in_progress(b)
        done = subprocess.run(command(b, args.stall), capture_output=True, text=True)
        run2 = time.monotonic() - started
        second = check(b, stack)
        print(f"run 2 (SIGKILL after {killed_at} verdicts, then restarted): {run2:.1f} s wall in all, "
              f"exit {done.returncode}")
        print(f"  manifest rows {second['rows']}, every disc on its right pile: {second['right_piles']}, "
              f"batch log verifies: {second['log_intact']}")
        print(f"  the same manifest as run 1: {first['manifest'] == second['manifest']}")
        for one, two in zip(first["manifest"].splitlines(), second["manifest"].splitlines()):
            if one != two:
                print(f"    run 1: {one}\n    run 2: {two}")
        print(f"  discs being imaged at the kill: {', '.join(open_discs) or 'none'}; their records show a resumed "
              f"run: {all(resumed(b, job) for job in open_discs)}")


if __name__ == "__main__":
    main()
