"""Hashing throughput: StreamHasher and hash_file against dc3dd and dcfldd. Prints figures; asserts nothing.

    python benchmarks/hash_throughput.py [--size-mb 2048] [--repeat 1] [--dir /tmp]

We compute MD5, SHA-1, SHA-256 and XXH3-128 plus piecewise XXH3-128 + SHA-256 per 1 MiB window;
dc3dd and dcfldd compute MD5, SHA-1 and SHA-256 only. The file runs are all warm: the file is read
once before timing (dropping the page cache needs root and would time the disk, not the hashing).
MB = 10^6 bytes. Every tool's digests are checked against ours.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acquire.hashing import StreamHasher, hash_file  # noqa: E402

PATTERN_BYTES = 64 << 20


def _busy_s() -> float:
    """CPU seconds every process on the machine has used (from /proc/stat), to see other load."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    """CPU seconds of this process and of the tools it ran."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):
    """(result, wall seconds, cores we used, cores other processes used meanwhile)."""
    wall, own, busy = time.perf_counter(), _own_s(), _busy_s()
    result = fn()
    wall, own, busy = time.perf_counter() - wall, _own_s() - own, _busy_s() - busy
    return result, wall, own / wall, max(0.0, busy - own) / wall


def best_of(repeat: int, fn):
    runs = [timed(fn) for _ in range(repeat)]
    return min(runs, key=lambda run: run[1])


def stream_run(pattern: bytes, size: int, piece_bytes: int | None = None):
    """Feed `size` bytes of the repeated pattern, in pieces of `piece_bytes` (default: the whole pattern)."""
    hasher = StreamHasher()
    view = memoryview(pattern)
    piece_bytes = piece_bytes or len(pattern)
    left = size
    while left:
        end = min(left, len(pattern))
        for start in range(0, end, piece_bytes):
            hasher.update(view[start:min(start + piece_bytes, end)])
        left -= end
    return hasher.finish()


def write_file(path: Path, pattern: bytes, size: int) -> None:
    with open(path, "wb") as file:
        left = size
        while left:
            left -= file.write(pattern[:min(left, len(pattern))])
        file.flush()
        os.fsync(file.fileno())


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as file:
        while file.read(16 << 20):
            pass


def run_tool(argv: list[str]) -> dict[str, str]:
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-500:]}")
    text = done.stdout + done.stderr
    digests = {}
    for name in ("md5", "sha1", "sha256"):
        # dc3dd: "   <hex> (md5)"; dcfldd: "Total (md5): <hex>"
        match = (re.search(rf"([0-9a-f]{{32,64}}) \({name}\)", text)
                 or re.search(rf"Total \({name}\): ([0-9a-f]{{32,64}})", text))
        if match:
            digests[name] = match.group(1)
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048, help="stream and file size in MiB (default 2048)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the fastest is shown (default 1)")
    parser.add_argument("--dir", default="/tmp", help="where the test file is written (default /tmp)")
    args = parser.parse_args()
    size = args.size_mb << 20
    pattern = os.urandom(min(PATTERN_BYTES, size) or 1)

    print(f"{size / 1e6:,.0f} MB ({args.size_mb} MiB); {os.cpu_count()} CPUs; load average before: "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    rows = []
    ours, *figures = best_of(args.repeat, lambda: stream_run(pattern, size))
    rows.append(("StreamHasher (memory)", "md5 sha1 sha256 xxh128 + windows", *figures))
    # what an acquisition does: one update per 32-sector READ
    small, *figures = best_of(args.repeat, lambda: stream_run(pattern, size, 64 << 10))
    assert small == ours, "the digests depend on how the stream was split"
    rows.append(("StreamHasher, 64 KiB feeds", "md5 sha1 sha256 xxh128 + windows", *figures))

    handle, name = tempfile.mkstemp(prefix="hash-throughput-", suffix=".bin", dir=args.dir)
    os.close(handle)
    path = Path(name)
    try:
        write_file(path, pattern, size)
        warm(path)
        from_file, *figures = best_of(args.repeat, lambda: hash_file(path))
        assert from_file == ours, "hash_file and StreamHasher disagree"
        rows.append(("hash_file (warm file)", "md5 sha1 sha256 xxh128 + windows", *figures))
        tools = {
            "dc3dd": [shutil.which("dc3dd"), f"if={path}", "hash=md5", "hash=sha1", "hash=sha256", "of=/dev/null"],
            "dcfldd": [shutil.which("dcfldd"), f"if={path}", "hash=md5,sha1,sha256", "of=/dev/null"],
        }
        for tool, argv in tools.items():
            if argv[0] is None:
                print(f"{tool}: not installed, skipped")
                continue
            digests, *figures = best_of(args.repeat, lambda: run_tool(argv))
            agree = digests == {k: getattr(ours, k) for k in ("md5", "sha1", "sha256")}
            rows.append((f"{tool} (warm file)" + ("" if agree else " DIGESTS DIFFER"), "md5 sha1 sha256", *figures))
    finally:
        path.unlink(missing_ok=True)

    reference = next((wall for label, _, wall, _, _ in rows if label.startswith("dc3dd")), None)
    print(f"\n{'what':26s} {'computes':34s} {'seconds':>8s} {'MB/s':>6s} {'cores':>6s} {'others':>7s} {'x dc3dd':>8s}")
    for label, computes, wall, cores, others in rows:
        ratio = f"{reference / wall:8.2f}" if reference else "       -"
        print(f"{label:26s} {computes:34s} {wall:8.2f} {size / 1e6 / wall:6.0f} {cores:6.2f} {others:7.2f} {ratio}")
    print("\ncores: CPU used by the row (a tool's run counts its child process); others: CPU that other processes")
    print("used meanwhile. On a 2-core machine, others > 0.2 means the row was slowed by unrelated load.")
    print("All file runs are warm (the file was read once first; the page cache was not dropped).")


if __name__ == "__main__":
    main()
