"""E01 export throughput and size: `acquire export RECORD --e01` at each compression level.

    python benchmarks/export_e01.py [--mb 200] [--dir /tmp]

Images a generated disc of `--mb` MB (10^6 bytes) through the simulated drive with every simulated
cost at zero, then exports it with `--compress none`, `fast` and `best` and prints, for each, the
wall time, MB/s of image data and the segment bytes per image byte. The disc's sectors hold text
(seeded words, a disc of documents) in the first half and random bytes (already-compressed media)
in the second, so the ratios show both kinds; each export also hashes the image again (MD5,
SHA-1, SHA-256, XXH3-128) to check it against the record, and that is in the time. Every E01 is
checked with ewfverify when ewf-tools is installed. Everything written is deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTOR_BYTES = 2048
LEVELS = ("none", "fast", "best")
WORDS = ("custody sector optical disc examiner evidence drive hash record image track session volume "
         "report damage chain seal export segment").split()


def make_image(path: Path, sectors: int) -> None:
    rng = random.Random(17)
    text_sectors = sectors // 2
    with open(path, "wb") as out:
        block = 512 * SECTOR_BYTES
        written = 0
        while written < text_sectors * SECTOR_BYTES:
            text = " ".join(rng.choice(WORDS) for _ in range(block // 6)).encode("ascii")[:block].ljust(block, b"\n")
            n = min(block, text_sectors * SECTOR_BYTES - written)
            out.write(text[:n])
            written += n
        remaining = (sectors - text_sectors) * SECTOR_BYTES
        while remaining:
            n = min(block, remaining)
            out.write(rng.randbytes(n))
            remaining -= n


def acquire(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acquire", *args], capture_output=True, text=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="image size in MB (10^6 bytes)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary directory)")
    options = parser.parse_args()
    sectors = options.mb * 10**6 // SECTOR_BYTES
    work = Path(tempfile.mkdtemp(prefix="export-e01-", dir=options.dir))
    try:
        make_image(work / "disc.iso", sectors)
        (work / "disc.toml").write_text(
            '[drive]\nserial = "BENCH"\n\n[disc]\nprofile = "dvd-rom"\nimage = "disc.iso"\n\n'
            "[timing]\noverhead_s = 0.0\nseek_base_s = 0.0\nseek_full_s = 0.0\nerror_delay_s = 0.0\n")
        done = acquire("image", f"sim:{work / 'disc.toml'}", str(work / "out.iso"), "--json")
        if done.returncode != 0:
            sys.exit(f"acquire image failed: {done.stderr}")
        record = work / "out.iso.custody.sqlite"
        size = sectors * SECTOR_BYTES
        print(f"E01 export of a {size / 1e6:.0f} MB image (half text, half random), "
              f"{shutil.which('ewfverify') and 'ewfverify on each' or 'no ewfverify'}:")
        for level in LEVELS:
            out = work / f"{level}.E01"
            start = time.monotonic()
            done = acquire("export", str(record), "--e01", "--compress", level, "-o", str(out), "--json")
            wall = time.monotonic() - start
            if done.returncode != 0:
                sys.exit(f"acquire export --compress {level} failed: {done.stderr}")
            result = json.loads(done.stdout)["e01"]
            verified = ""
            if shutil.which("ewfverify"):
                ok = subprocess.run(["ewfverify", "-q", str(out)], capture_output=True).returncode == 0
                verified = "  ewfverify ok" if ok else "  ewfverify FAILED"
            print(f"  {level:5} {size / result['seconds'] / 1e6:7.1f} MB/s  (wall {wall:5.2f} s with start-up)  "
                  f"{result['written_bytes']:>11} bytes, ratio {result['ratio']:.3f}{verified}")
            for segment in result["segments"]:
                Path(segment).unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
