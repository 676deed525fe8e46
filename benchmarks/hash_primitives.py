"""Each hash primitive alone, one thread and two: seconds per GiB over a 2 MiB buffer.

    python benchmarks/hash_primitives.py [--mib 512]

The figures behind acquire/hashing.py's choices: which window hash (BLAKE3 or SHA-256), which CRC32
(ISA-L or zlib), and whether each releases the GIL (the two-thread row takes about the one-thread
time for twice the bytes when it does). Prints; asserts nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import threading
import time
import zlib

import blake3
import xxhash
from isal import isal_zlib

CHUNK = 2 << 20
WINDOW = 1 << 20


def windows(fn):
    return lambda view: [fn(view[i:i + WINDOW]) for i in range(0, CHUNK, WINDOW)]


PRIMITIVES = {
    "md5": lambda v: hashlib.md5(v).digest(),
    "sha1": lambda v: hashlib.sha1(v).digest(),
    "sha256": lambda v: hashlib.sha256(v).digest(),
    "crc32 zlib": zlib.crc32,
    "crc32 isal": isal_zlib.crc32,
    "xxh128": xxhash.xxh3_128_digest,
    "window blake3": windows(lambda w: blake3.blake3(w).digest()),
    "window sha256": windows(lambda w: hashlib.sha256(w).digest()),
}


def timed(fn, view, rounds: int, threads: int) -> float:
    def loop():
        for _ in range(rounds):
            fn(view)
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="bytes hashed per thread (MiB)")
    args = parser.parse_args()
    view = memoryview(os.urandom(CHUNK))
    rounds = max(1, args.mib * (1 << 20) // CHUNK)
    gib = rounds * CHUNK / (1 << 30)
    print(f"{'primitive':16s} {'1 thread s/GiB':>15s} {'2 threads s/GiB':>16s}  (cpu_count {os.cpu_count()})")
    for name, fn in PRIMITIVES.items():
        one = timed(fn, view, rounds, 1) / gib
        two = timed(fn, view, rounds, 2) / (2 * gib)
        print(f"{name:16s} {one:15.3f} {two:16.3f}")


if __name__ == "__main__":
    main()
