"""Writing an image file: buffered pwrite against O_DIRECT, the choice behind acquire/isowriter.py's write-behind.

    python benchmarks/write_modes.py [--dir /tmp] [--mib 1024]

For each mode and write size it preallocates a file of `--mib` MiB in `--dir`, pwrites it in a loop from
one page-aligned buffer (random bytes), then fdatasyncs, and prints wall seconds, CPU seconds of this
process and the fdatasync's seconds. The file is deleted after each row. Buffered rows pay the page
cache's copy (and, on a VM, its first touch of each page, which depends on the machine's memory state:
run the script twice to see it); O_DIRECT rows skip the page cache. MiB = 2^20 bytes.
"""
from __future__ import annotations

import argparse
import mmap
import os
import tempfile
import time
from pathlib import Path

ROWS = (("buffered", 64), ("direct", 2048), ("buffered", 2048), ("direct", 2048), ("buffered", 64), ("direct", 256))


def one_row(directory: Path, mode: str, kib: int, total: int) -> tuple[float, float, float]:
    """(wall s, CPU s, fdatasync s) of writing `total` bytes in `kib` KiB pwrites."""
    size = kib << 10
    path = Path(tempfile.mktemp(prefix="write-modes-", dir=directory))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | (os.O_DIRECT if mode == "direct" else 0), 0o600)
    try:
        os.posix_fallocate(fd, 0, total)
        buffer = mmap.mmap(-1, size)
        buffer.write(os.urandom(size))
        start, cpu = time.monotonic(), time.process_time()
        for offset in range(0, total, size):
            os.pwrite(fd, buffer, offset)
        written = time.monotonic()
        os.fdatasync(fd)
        return written - start, time.process_time() - cpu, time.monotonic() - written
    finally:
        os.close(fd)
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    total = args.mib << 20
    print(f"{args.mib} MiB per row in {args.dir}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'mode':10} {'write KiB':>9} {'wall s':>7} {'cpu s':>6} {'fdatasync s':>11}")
    for mode, kib in ROWS:
        wall, cpu, sync = one_row(args.dir, mode, kib, total)
        print(f"{mode:10} {kib:9} {wall:7.2f} {cpu:6.2f} {sync:11.2f}")


if __name__ == "__main__":
    main()
