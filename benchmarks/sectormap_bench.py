"""How fast SectorMap.set() is, for the two shapes a rescue produces. Prints figures; asserts nothing.

    python benchmarks/sectormap_bench.py
"""
from __future__ import annotations

import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acquire.rescue.sectormap import SectorMap, State  # noqa: E402

BD_XL_SECTORS = 48_878_592   # 100 GB BD-XL


def sequential(sectors: int = 3_000_000, step: int = 32) -> None:
    """The copy pass on a good disc: every set() extends the one growing finished run."""
    m = SectorMap(sectors)
    t0 = time.perf_counter()
    for lba in range(0, sectors, step):
        m.set(lba, min(step, sectors - lba), State.FINISHED)
    dt = time.perf_counter() - t0
    calls = -(-sectors // step)
    print(f"sequential {step}-sector appends over {sectors:,} sectors: {calls:,} sets in {dt:.3f} s "
          f"= {calls / dt:,.0f} sets/s; {len(m)} run(s)")


def random_sets(sectors: int = BD_XL_SECTORS, calls: int = 100_000, seed: int = 1) -> None:
    """Scattered damage: random starts, lengths 1..64, any state; the map fragments as it goes."""
    rng = random.Random(seed)
    args = []
    for _ in range(calls):
        count = rng.randint(1, 64)
        args.append((rng.randrange(sectors - count), count, State(rng.randrange(5))))
    m = SectorMap(sectors)
    t0 = time.perf_counter()
    for start, count, state in args:
        m.set(start, count, state)
    dt = time.perf_counter() - t0
    print(f"random sets over {sectors:,} sectors: {calls:,} sets in {dt:.3f} s = {calls / dt:,.0f} sets/s; "
          f"{len(m):,} runs at the end")


def mostly_finished_memory(sectors: int = BD_XL_SECTORS) -> None:
    tracemalloc.start()
    m = SectorMap(sectors)
    m.set(0, sectors, State.FINISHED)
    rng = random.Random(2)
    for _ in range(200):
        m.set(rng.randrange(sectors - 16), 16, State.BAD)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"a {sectors:,}-sector map, finished but for 200 bad stretches: {len(m)} runs, "
          f"{size / 1024:.1f} KiB allocated")


if __name__ == "__main__":
    sequential()
    random_sets()
    random_sets(sectors=3_000_000)
    mostly_finished_memory()
