"""What reading every session costs: finding the sessions in an image, the per-session analysis, and
verify's declared sizes (docs/fs.md "Every session", "Declared sizes"). Prints figures, asserts nothing.

    python benchmarks/sessions_cost.py [--repeat 5]

Cases: the multisession test discs of tests/multisession.py (two- and three-session CD-R, three-border
DVD-R, xorriso overwriteable media), analysed with the layout given and with the sessions found in
the image; and the scan's worst case, a single-session ISO followed by 64 MiB of data that holds no
volume descriptor (an appended partition), scanned with no map and with a map marking the tail not
read (as the gaps between sessions are).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import multisession as ms  # noqa: E402
from acquire.fs import declared  # noqa: E402
from acquire.fs.analyze import analyze_image  # noqa: E402
from acquire.fs.reader import SectorReader  # noqa: E402
from acquire.fs.sessions import SCAN_WINDOW_SECTORS, find_sessions  # noqa: E402
from acquire.rescue.sectormap import SectorMap, State  # noqa: E402

SECTOR = 2048


def timed(fn, repeat: int) -> float:
    """Median wall time in ms of `repeat` calls (the page cache warm after the first)."""
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def tail_case(directory: Path) -> tuple[Path, int]:
    """A genisoimage ISO followed by SCAN_WINDOW_SECTORS sectors of random bytes."""
    tree = ms.write_tree(directory / "tree", ms.SESSION1_FILES, seed=1)
    iso = ms.genisoimage_first(tree, directory / "one.iso", "TAIL")
    volume = iso.stat().st_size // SECTOR
    with open(iso, "ab") as f:
        f.write(random.Random(5).randbytes(SCAN_WINDOW_SECTORS * SECTOR))
    return iso, volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, median of {args.repeat} warm runs, ms")
    print(f"{'case':28} {'sectors':>8} {'sessions':>8} {'find':>8} {'analyse(layout)':>16} {'analyse(found)':>15} {'declared':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("cd_r_two_sessions", "cd_r_three_sessions", "dvd_r_three_borders", "overwriteable_stdio"):
            disc = getattr(ms, name)(base / name)

            def find(disc=disc):
                with SectorReader(disc.image, None) as reader:
                    return find_sessions(reader)
            row = (timed(find, args.repeat),
                   timed(lambda: analyze_image(disc.image, None, session_starts=disc.starts), args.repeat),
                   timed(lambda: analyze_image(disc.image, None), args.repeat),
                   timed(lambda: declared.from_image(disc.image, disc.starts), args.repeat))
            print(f"{name:28} {disc.sectors:8} {len(disc.starts):8} {row[0]:8.2f} {row[1]:16.2f} {row[2]:15.2f} {row[3]:9.2f}")
        iso, volume = tail_case(base / "tail")
        sectors = iso.stat().st_size // SECTOR
        smap = SectorMap(sectors, State.FINISHED)
        smap.set(volume, sectors - volume, State.BAD)

        def scan(smap=None):
            with SectorReader(iso, smap) as reader:
                return find_sessions(reader)
        print(f"{'64 MiB tail, no map':28} {sectors:8} {len(scan()):8} {timed(scan, args.repeat):8.2f}")
        print(f"{'64 MiB tail, tail not read':28} {sectors:8} {len(scan(smap)):8} {timed(lambda: scan(smap), args.repeat):8.2f}")


if __name__ == "__main__":
    main()
