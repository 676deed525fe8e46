"""Peak memory of `acquire image` on large simulated Blu-ray discs, up to a 100 GB BD-XL; flat in size and time?

    python benchmarks/bdxl_memory.py [--sizes-gb 1,5,25,max] [--dir /tmp] [--damaged-gb 5 --bad-blocks 400]

Each size is a whole `python -m acquire image sim:PROFILE IMAGE --json --yes` of a generated bd-rom disc
(`sectors = N`, all simulated costs zero, so it runs as fast as the tool can). While it runs, the
child's /proc/PID/status (VmRSS, VmHWM) and /proc/PID/io (wchar: bytes it has written, to place each
sample in the run) are sampled every --interval seconds; at the end its ru_maxrss comes from wait4.
`max` is a 100 GB BD-XL (48,878,592 sectors) when the disk holds it, else the largest image that fits
with a reserve left free: the image is really written (preallocated, then every sector), so a
100 GB run needs 100 GB free. The damaged variant scatters unreadable 32-sector ECC blocks over a
bd-rom disc and shows the map and the record stay small (and the memory of the end-of-run hash_file,
which a damaged run uses instead of the streamed hashes). The issue's goal: under 150 MB, and flat.
MB = 10^6 bytes, MiB = 2^20 (memory figures are MiB, as the kernel counts kB).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTOR_BYTES = 2048
BDXL_SECTORS = 48_878_592                # a 100 GB BD-XL (three layers)
BD_ECC_SECTORS = 32
RESERVE_BYTES = 8 * 10**9
CURVE_POINTS = 16                        # samples printed per run (all are used for the peak)


def write_profile(path: Path, sectors: int, damage_lbas: str | None = None) -> None:
    text = (f'[drive]\nserial = "BENCH-BDXL"\n\n[disc]\nprofile = "bd-rom"\nsectors = {sectors}\n\n'
            "[timing]\noverhead_s = 0.0\nseek_base_s = 0.0\nseek_full_s = 0.0\nerror_delay_s = 0.0\n")
    if damage_lbas:
        text += f'\n[[damage]]\nlbas = "{damage_lbas}"\nkind = "unreadable"\nsense = "03/11/05"\n'
    path.write_text(text)


def status_kb(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    with open(f"/proc/{pid}/io") as file:
        for line in file:
            key, _, value = line.partition(":")
            if key == "wchar":
                fields["wchar"] = int(value)
    return fields


def run_sampled(argv: list[str], interval_s: float) -> tuple[int, float, int, list[tuple[float, int, int]], str]:
    """(exit code, wall s, ru_maxrss kB, samples (t, wchar, VmRSS kB), stdout)."""
    samples: list[tuple[float, int, int]] = []
    hwm = 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        while True:
            try:
                fields = status_kb(proc.pid)
                samples.append((time.monotonic() - start, fields.get("wchar", 0), fields.get("VmRSS", 0)))
                hwm = max(hwm, fields.get("VmHWM", 0))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass                        # exited (a zombie has no VmRSS line) or not yet started
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(interval_s)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{argv} exited {proc.returncode}: {stderr[-800:]}")
    return proc.returncode, wall, max(usage.ru_maxrss, hwm), samples, stdout


def print_curve(samples: list[tuple[float, int, int]], size: int) -> None:
    samples = [s for s in samples if s[2]]          # a zombie has no VmRSS
    if not samples:
        return
    step = max(1, len(samples) // CURVE_POINTS)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    print(f"    {'t s':>7s} {'written GB':>10s} {'done':>5s} {'VmRSS MiB':>9s}")
    for t, wchar, rss in picked:
        print(f"    {t:7.1f} {wchar / 1e9:10.2f} {min(1.0, wchar / size):5.0%} {rss / 1024:9.1f}")
    # "flat": the copy's samples (5..99 % written), first quarter of them against the last half
    copy = [rss for _, wchar, rss in samples if 0.05 * size <= wchar <= 0.99 * size]
    after = [rss for _, wchar, rss in samples if wchar > 0.99 * size]
    line = f"    {len(samples)} samples; VmRSS max {max(r for _, _, r in samples) / 1024:.1f} MiB"
    if len(copy) >= 4:
        early, late = max(copy[:len(copy) // 4]), max(copy[len(copy) // 2:])
        line += (f"; during the copy: max {max(copy) / 1024:.1f} MiB, first quarter {early / 1024:.1f}, "
                 f"second half {late / 1024:.1f} (growth {(late - early) / 1024:+.1f} MiB)")
    if after:
        line += f"; after the last byte (hashes, record, seal) max {max(after) / 1024:.1f} MiB"
    print(line)


def record_figures(record: Path) -> dict:
    db = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
    try:
        count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
        return {"map rows": count("sector_map"), "damage rows": count("damage"), "window rows": count("windows"),
                "provenance rows": count("provenance"), "events": count("events"),
                "record MB": record.stat().st_size / 1e6}
    finally:
        db.close()


def scattered_bad_blocks(sectors: int, blocks: int, seed: int = 100) -> tuple[str, int]:
    """`blocks` distinct ECC-aligned 32-sector blocks, spread at random (seeded); (lbas text, bad sectors)."""
    rng = random.Random(seed)
    starts = sorted(rng.sample(range(1, sectors // BD_ECC_SECTORS - 1), blocks))
    text = ", ".join(f"{s * BD_ECC_SECTORS}-{s * BD_ECC_SECTORS + BD_ECC_SECTORS - 1}" for s in starts)
    return text, blocks * BD_ECC_SECTORS


def one_run(work: Path, sectors: int, interval_s: float, damage: str | None = None) -> dict:
    profile, image = work / "disc.toml", work / "disc.iso"
    write_profile(profile, sectors, damage)
    argv = [sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(image), "--json", "--yes"]
    print("   " + " ".join(["python", *argv[1:]]))
    code, wall, maxrss_kb, samples, stdout = run_sampled(argv, interval_s)
    result = json.loads(stdout)
    size = sectors * SECTOR_BYTES
    figures = record_figures(Path(result["record"]))
    print(f"    exit {code}, status {result['status']}, {wall:.1f} s wall ({size / 1e6 / wall:.0f} MB/s), "
          f"unreadable {result['unreadable']} sectors in {len(result['unreadable_ranges'])} ranges")
    print("    record: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))
    print(f"    peak memory (ru_maxrss / VmHWM): {maxrss_kb / 1024:.1f} MiB")
    print_curve(samples, size)
    for path in work.iterdir():
        if path.name.startswith("disc.iso"):
            path.unlink()
    return {"size": size, "peak_kb": maxrss_kb, "wall": wall, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-gb", default="1,5,25,max", help="GB (10^9) per run; 'max' = 100 GB BD-XL or the "
                                                                 "largest that fits (default 1,5,25,max)")
    parser.add_argument("--dir", default="/tmp", help="where images are written (default /tmp)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--damaged-gb", type=float, default=5.0, help="size of the damaged variant; 0 skips it")
    parser.add_argument("--bad-blocks", type=int, default=400, help="unreadable 32-sector blocks it scatters")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bdxl-memory-", dir=args.dir))
    print(f"{os.cpu_count()} CPUs; images in {work}; {shutil.disk_usage(work).free / 1e9:.1f} GB free there")
    table = []
    try:
        for token in [t.strip() for t in args.sizes_gb.split(",") if t.strip()]:
            free = shutil.disk_usage(work).free
            fits = max(0, (free - RESERVE_BYTES) // SECTOR_BYTES)
            if token == "max":
                sectors = min(BDXL_SECTORS, fits)
                if sectors < BDXL_SECTORS:
                    print(f"\n100 GB BD-XL ({BDXL_SECTORS:,} sectors, {BDXL_SECTORS * SECTOR_BYTES / 1e9:.1f} GB) does "
                          f"not fit: {free / 1e9:.1f} GB free, {RESERVE_BYTES / 1e9:.0f} GB kept in reserve; "
                          f"measuring the largest that fits")
            else:
                sectors = int(float(token) * 10**9) // SECTOR_BYTES
                if sectors > fits:
                    print(f"\n{token} GB does not fit ({free / 1e9:.1f} GB free): capped")
                    sectors = fits
            sectors -= sectors % BD_ECC_SECTORS
            if sectors <= 0:
                continue
            print(f"\n== undamaged bd-rom, {sectors:,} sectors, {sectors * SECTOR_BYTES / 1e9:.1f} GB ==")
            table.append(("undamaged", one_run(work, sectors, args.interval)))
        if args.damaged_gb > 0:
            sectors = int(args.damaged_gb * 10**9) // SECTOR_BYTES
            sectors -= sectors % BD_ECC_SECTORS
            lbas, bad = scattered_bad_blocks(sectors, args.bad_blocks)
            print(f"\n== damaged bd-rom, {sectors:,} sectors, {sectors * SECTOR_BYTES / 1e9:.1f} GB, "
                  f"{args.bad_blocks} unreadable ECC blocks scattered ({bad} sectors) ==")
            table.append((f"{args.bad_blocks} bad blocks", one_run(work, sectors, args.interval, lbas)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'disc':16s} {'GB':>7s} {'peak MiB':>9s} {'MB/s':>6s} {'map rows':>9s} {'windows':>8s} {'record MB':>10s}")
    for label, row in table:
        print(f"{label:16s} {row['size'] / 1e9:7.1f} {row['peak_kb'] / 1024:9.1f} {row['size'] / 1e6 / row['wall']:6.0f} "
              f"{row['map rows']:9d} {row['window rows']:8d} {row['record MB']:10.1f}")
    clean = [row for label, row in table if label == "undamaged"]
    if len(clean) >= 2:
        (x0, y0), (x1, y1) = [(r["size"] / 1e9, r["peak_kb"] / 1024) for r in (clean[0], clean[-1])]
        slope = (y1 - y0) / (x1 - x0) if x1 != x0 else 0.0
        at_bdxl = y1 + slope * (BDXL_SECTORS * SECTOR_BYTES / 1e9 - x1)
        print(f"\npeak grows {slope:.3f} MiB per GB between {x0:g} and {x1:.1f} GB; "
              f"a straight line from there gives {at_bdxl:.0f} MiB at 100 GB (goal: under 150 MB)")


if __name__ == "__main__":
    main()
