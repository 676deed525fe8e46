"""What retry hygiene costs and what it recovers: `acquire image` with and without `--no-hygiene` on
seeded damage over the simulated drive's clock. Prints figures; asserts nothing.

    python benchmarks/hygiene_cost.py            # about a minute of wall time on 2 cores
    python benchmarks/hygiene_cost.py --seeds 5

Patterns (generated content, CD at 24x, 8 s a failed READ, --retries 1 and 2):
- clean:       no damage: hygiene must cost nothing (no re-reading pass starts)
- scratch:     a radial scratch, one sector per turn over 300 turns on a spiral 3-4 % off nominal,
               with 6 flaky sectors (1-2 failures) beside it
- slow-only:   the scratch plus 12 sectors that read only at 8x or slower (`max_speed_x = 8`)
- confusable:  the scratch, with the disc's own zeros (300 sectors) right after it, so that the
               confused-drive check runs and must pass

Columns: drive time (the simulated clock, elapsed_s), failed READs and all READs (from the drive's
trace), sectors left unreadable, and in how many seeds that is exactly the true unreadable set.
Then the wall time of an undamaged 250,000-sector disc with hygiene off and on (`--throughput-only`
runs just that): what the wrapper costs per READ when nothing fails.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acquire.rescue.geometry import Geometry  # noqa: E402

SECTORS = 60_000


def scratch(rng: random.Random) -> list[int]:
    nominal = Geometry.nominal("cd")
    true = Geometry.from_physical("cd", nominal.r0_m * rng.uniform(0.97, 1.03), nominal.pv_m2_s * rng.uniform(0.96, 1.04))
    angle, first = rng.random(), rng.randrange(200, 600)
    return sorted({math.floor(true.lba_at(n + angle)) for n in range(first, first + 300)} - {0})


def ranges(lbas) -> str:
    out: list[list[int]] = []
    for lba in sorted(lbas):
        if out and out[-1][1] == lba - 1:
            out[-1][1] = lba
        else:
            out.append([lba, lba])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in out)


def pattern(kind: str, seed: int, work: Path) -> tuple[list[dict], set[int], Path | None]:
    """(damage entries, the truly unreadable set, a disc image or None for generated sectors)."""
    rng = random.Random(seed)
    if kind == "clean":
        return [], set(), None
    bad = scratch(rng)
    taken = set(bad)
    free = [x for x in range(1000, SECTORS - 1000) if all(abs(x - b) > 40 for b in bad[::7])]
    flaky = rng.sample(free, 6)
    damage = [{"lbas": ranges(bad), "kind": "unreadable"}]
    damage += [{"lbas": str(x), "kind": "flaky", "failures": rng.randint(1, 2)} for x in flaky]
    taken |= set(flaky)
    image = None
    if kind == "slow-only":
        slow = rng.sample([x for x in free if x not in taken], 12)
        damage.append({"lbas": ranges(slow), "kind": "flaky", "max_speed_x": 8})
    if kind == "confusable":
        image = work / f"disc-{seed}.iso"
        data = bytearray(random.Random(seed).randbytes(SECTORS * 2048))
        start = bad[len(bad) // 2] + 1
        data[start * 2048:(start + 300) * 2048] = bytes(300 * 2048)
        image.write_bytes(bytes(data))
    return damage, set(bad), image


def profile_text(damage: list[dict], image: Path | None, trace: Path) -> str:
    lines = ["[drive]", 'serial = "HYG"', f'trace = "{trace}"', "", "[disc]", 'profile = "cd-rom"',
             f'image = "{image}"' if image else f"sectors = {SECTORS}"]
    for d in damage:
        lines += ["", "[[damage]]"] + [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in d.items()]
    return "\n".join(lines) + "\n"


def run(kind: str, seed: int, retries: int, hygiene: bool, work: Path) -> dict:
    damage, truth, image = pattern(kind, seed, work)
    trace = work / "t.log"
    trace.unlink(missing_ok=True)
    profile = work / "p.toml"
    profile.write_text(profile_text(damage, image, trace))
    out_iso = work / "out.iso"
    for p in work.glob("out.iso*"):
        p.unlink()
    args = [sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(out_iso), "--json", "--retries", str(retries)]
    if not hygiene:
        args.append("--no-hygiene")
    t0 = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.monotonic() - t0
    if done.returncode not in (0, 3):
        raise SystemExit(f"{kind} seed {seed}: exit {done.returncode}: {done.stderr.strip()}")
    out = json.loads(done.stdout)
    reads = [line.split() for line in trace.read_text().splitlines() if not line.startswith("speed")]
    unreadable = {x for a, b in out["unreadable_ranges"] for x in range(a, b + 1)}
    return {"drive_s": out["elapsed_s"], "failed": sum(1 for r in reads if r[2] == "err"), "reads": len(reads),
            "unreadable": len(unreadable), "exact": unreadable == truth, "wall": wall}


def throughput(work: Path, sectors: int = 250_000, rounds: int = 3) -> None:
    """Wall time of `acquire image` on an undamaged generated disc, hygiene off and on, alternating:
    what the wrapper costs per READ when nothing fails."""
    profile = work / "clean.toml"
    profile.write_text(f'[drive]\nserial = "HYG"\n\n[disc]\nprofile = "cd-rom"\nsectors = {sectors}\n')
    walls: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for hygiene in (False, True):
            for p in work.glob("big.iso*"):
                p.unlink()
            args = [sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(work / "big.iso"), "--json"]
            t0 = time.monotonic()
            subprocess.run(args + ([] if hygiene else ["--no-hygiene"]), check=True, capture_output=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
            walls[hygiene].append(time.monotonic() - t0)
    mb = sectors * 2048 / 1e6
    for hygiene in (False, True):
        w = sorted(walls[hygiene])
        print(f"undamaged {sectors:,} sectors ({mb:.0f} MB), hygiene {'on ' if hygiene else 'off'}: wall "
              f"{w[len(w) // 2]:.2f} s median of {rounds} ({w[0]:.2f}-{w[-1]:.2f}), {mb / w[len(w) // 2]:.0f} MB/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--throughput-only", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="undamaged-disc runs per setting")
    args = ap.parse_args()
    if args.throughput_only:
        with tempfile.TemporaryDirectory(prefix="hygiene-bench-") as tmp:
            throughput(Path(tmp), rounds=args.rounds)
        return
    print(f"CD, {SECTORS:,} sectors, 24x, 8 s a failed READ; {args.seeds} seeds per pattern; median (min-max)")
    print(f"{'pattern':11} {'retries':>7} {'hygiene':>7} {'drive time s':>22} {'failed READs':>18} {'READs':>18} "
          f"{'unreadable':>16} exact")
    with tempfile.TemporaryDirectory(prefix="hygiene-bench-") as tmp:
        work = Path(tmp)
        for kind in ("clean", "scratch", "slow-only", "confusable"):
            for retries in (1, 2):
                for hygiene in (False, True):
                    rows = [run(kind, seed, retries, hygiene, work) for seed in range(args.seeds)]
                    print(f"{kind:11} {retries:>7} {'on' if hygiene else 'off':>7} {_spread(rows, 'drive_s', '.1f'):>22} "
                          f"{_spread(rows, 'failed', 'd'):>18} {_spread(rows, 'reads', 'd'):>18} "
                          f"{_spread(rows, 'unreadable', 'd'):>16} {sum(r['exact'] for r in rows)}/{len(rows)}",
                          flush=True)
        throughput(work, rounds=args.rounds)


def _spread(rows: list[dict], key: str, fmt: str) -> str:
    values = sorted(r[key] for r in rows)
    mid = values[len(values) // 2]
    return f"{mid:{fmt}} ({values[0]:{fmt}}-{values[-1]:{fmt}})"


if __name__ == "__main__":
    main()
