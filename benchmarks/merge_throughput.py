"""`acquire merge` throughput: two acquisitions of one generated disc, damaged in different places.

For each seed, two copies of a disc of SECTORS random sectors are imaged through the simulated
drive with SCATTERED seeded unreadable stretches each (1-32 sectors, uniform, anywhere, none shared
by both copies), then merged with `python -m acquire merge`; the figure is the output bytes over
the command's wall time (Python start-up, the checks, the pass, the hashes and the sealed record
included). The damage is synthetic and of our own making: it measures the pass, not any real
pair of discs. `verify --against` on the same pair is timed too.

    python benchmarks/merge_throughput.py [--sectors 51200] [--seeds 3]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTOR = 2048
SCATTERED = 40


def acquire(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acquire", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def damage(rng: random.Random, sectors: int, avoid: set[int]) -> list[tuple[int, int]]:
    out = []
    while len(out) < SCATTERED:
        start = rng.randrange(100, sectors - 40)
        length = rng.randint(1, 32)
        span = set(range(start, start + length))
        if span & avoid:
            continue
        avoid |= span
        out.append((start, start + length - 1))
    return out


def profile(path: Path, image: str, stretches: list[tuple[int, int]]) -> Path:
    lines = ['[drive]\nserial = "BENCH"\n', f'[disc]\nprofile = "cd-rom"\nimage = "{image}"\n',
             "[timing]\noverhead_s = 0.0\nseek_base_s = 0.0\nseek_full_s = 0.0\nerror_delay_s = 0.0\n"]
    lines += [f'[[damage]]\nlbas = "{a}-{b}"\nkind = "unreadable"\n' for a, b in stretches]
    path.write_text("\n".join(lines))
    return path


def one(seed: int, sectors: int, where: Path) -> tuple[float, float]:
    rng = random.Random(seed)
    (where / "disc.iso").write_bytes(rng.randbytes(sectors * SECTOR))
    taken: set[int] = set()
    records = []
    for name in ("a", "b"):
        prof = profile(where / f"{name}.toml", "disc.iso", damage(rng, sectors, taken))
        done = acquire("image", f"sim:{prof}", where / f"{name}.iso", "--json")
        assert done.returncode == 3, done.stderr
        records.append(where / f"{name}.iso.custody.sqlite")
    start = time.monotonic()
    done = acquire("merge", *records, "-o", where / "merged.iso", "--json")
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    start = time.monotonic()
    against = acquire("verify", records[0], "--against", records[1], "--no-record", "--json")
    verify_s = time.monotonic() - start
    assert json.loads(against.stdout)["checks"], against.stderr
    return wall, verify_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sectors", type=int, default=51_200, help="disc size in sectors (default 51,200: 105 MB)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    args = parser.parse_args()
    mb = args.sectors * SECTOR / 1e6
    print(f"merge of two copies, {args.sectors} sectors ({mb:.0f} MB), {SCATTERED} disjoint unreadable stretches "
          f"of 1-32 sectors each, seeds 1..{args.seeds}")
    print("seed   merge s   MB/s   verify --against s")
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            wall, verify_s = one(seed, args.sectors, Path(tmp))
        print(f"{seed:4}   {wall:7.2f}   {mb / wall:4.0f}   {verify_s:18.2f}")


if __name__ == "__main__":
    main()
