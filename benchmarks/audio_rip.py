"""What reading audio sample-exact costs on the simulated drive's clock (docs/reference/contracts.md
"The clock"): a mixed-mode CD (data track + 3 audio tracks) clean, with C2-flagged damage, with
damage no C2 bit flags, and with a drive that gives no C2; for each, the drive time, the sectors
read and re-read, and the samples left unresolved; and the host's wall time for the whole run.

    python benchmarks/audio_rip.py                    # 3 tracks of 20 s each
    python benchmarks/audio_rip.py --seconds 60

The damage is a scratch of 30 consecutive sectors in track 3 that reads wrong twice, then right.
Then the host's costs per unit, in this Python: the EDC check and the L-EC check of one raw data
sector, the rebuild of one (EDC and L-EC parity), and the AccurateRip v1/v2 + CRC32 of one minute.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from audio_discs import mixed_mode  # noqa: E402  (the tests' disc builder: the same discs the tests read)

CASES = {
    "clean": ("read_offset = 6\noverread = true", []),
    "c2-flagged scratch": ("read_offset = 6\noverread = true", ["kind = \"flaky\"\nfailures = 2"]),
    "unflagged scratch": ("read_offset = 6\noverread = true", ["kind = \"flaky\"\nfailures = 2\nc2 = false"]),
    "no-C2 drive, scratch": ("read_offset = 6\noverread = true\nc2 = false", ["kind = \"flaky\"\nfailures = 2"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each audio track")
    args = parser.parse_args()
    sectors = args.seconds * 75
    print(f"mixed-mode CD: data track + 3 audio tracks of {args.seconds} s ({sectors} sectors each)")
    print(f"{'case':24} {'exit':>4} {'drive s':>8} {'read':>7} {'re-read':>7} {'C2 smp':>7} {'unresolved':>10} {'wall s':>7}")
    for name, (drive, damage) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            first = 175 + 150 + 2 * sectors + 100          # inside track 3 (the ISO is 175 sectors)
            entries = [f'lbas = "{first}-{first + 29}"\n{d}' for d in damage]
            disc = mixed_mode(tmp, audio_sectors=(sectors,) * 3, drive=drive, damage=entries)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "acquire", "image", f"sim:{disc['profile']}", tmp / "out.iso",
                                   "--json"], capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - start
            out = json.loads(done.stdout)
            tracks = out["audio"]["tracks"]
            print(f"{name:24} {done.returncode:>4} {out['elapsed_s']:>8.1f} {sum(t['reads'] for t in tracks):>7} "
                  f"{sum(t['rereads'] for t in tracks):>7} {sum(t['c2_samples'] for t in tracks):>7} "
                  f"{out['audio']['unresolved_samples']:>10} {wall:>7.1f}")


def unit_costs() -> None:
    import os
    from acquire.audio import checksums, ecma130
    sector = ecma130.mode1_sector(16, os.urandom(2048))
    pcm = os.urandom(4 * 588 * 75 * 60)
    for name, fn, n in (("EDC check, one sector", lambda: ecma130.check_raw(sector), 200),
                        ("L-EC check, one sector", lambda: ecma130.lec_ok(sector), 200),
                        ("rebuild, one sector", lambda: ecma130.mode1_sector(16, sector[16:2064]), 200),
                        ("AccurateRip + CRC32, one minute", lambda: checksums.track_sums(pcm, True, True), 3)):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        print(f"{name:34} {(time.perf_counter() - start) / n * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
    unit_costs()
