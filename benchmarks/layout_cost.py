"""What the recorded layout saves: a TAO multisession CD-R imaged with its layout, against the same
disc as a drive without a layout sees it (one image where the gaps are unreadable sectors), on
the simulated drive's clock (docs/reference/contracts.md "The clock"), and what the layout costs
(the run-out probes, the extra setup commands).

    python benchmarks/layout_cost.py              # 2 and 3 sessions of ~2,000 sectors, real gaps
    python benchmarks/layout_cost.py --sessions 2 --sectors 20000

For each case it prints the simulated drive time (`elapsed_s`), the exit code, the sectors counted
unreadable, the failed reads, and the READs into not-recorded areas. The "without" case is the
composite image (every session at its LBA) as one [disc] image with the gaps and run-out blocks as
unreadable [[damage]] of sense 05/64/00: what imaging the disc cost before the layout.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTOR = 2048
GAPS = (11_400, 6_900)


def sessions(tmp: Path, count: int, sectors: int, seed: int = 3) -> list[tuple[int, Path, int]]:
    """(start, image, sectors) per session: seeded random sectors, TAO placement at the real gaps."""
    rng = random.Random(seed)
    out, start = [], 0
    for k in range(count):
        image = tmp / f"s{k + 1}.iso"
        image.write_bytes(rng.randbytes(sectors * SECTOR))
        out.append((start, image, sectors))
        start += sectors + 2 + GAPS[k > 0]
    return out


def run(profile: Path, image: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(image), "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    out = json.loads(done.stdout)
    trace = (profile.parent / "reads.log").read_text().splitlines()
    (profile.parent / "reads.log").unlink()
    return {"exit": done.returncode, "elapsed_s": out["elapsed_s"], "unreadable": out["unreadable"],
            "failed_reads": sum(" err " in line for line in trace), "reads": sum(line[0].isdigit() for line in trace)}


def case(tmp: Path, count: int, sectors: int) -> None:
    parts = sessions(tmp, count, sectors)
    head = '[drive]\nserial = "SIM-B"\ntrace = "reads.log"\n\n[timing]\nerror_delay_s = 8.0\n\n'
    with_layout = head + '[disc]\nprofile = "cd-r"\n' + "".join(
        f'\n[[track]]\nnumber = {k + 1}\nsession = {k + 1}\nstart = {s}\nimage = "{i.name}"\nwrite = "tao"\n'
        for k, (s, i, _) in enumerate(parts))
    (tmp / "with.toml").write_text(with_layout)
    end = parts[-1][0] + parts[-1][2] + 2
    composite = bytearray(end * SECTOR)
    for s, i, _ in parts:
        composite[s * SECTOR:s * SECTOR + i.stat().st_size] = i.read_bytes()
    (tmp / "composite.iso").write_bytes(bytes(composite))
    gaps = []
    for k, (s, _, n) in enumerate(parts):
        stop = parts[k + 1][0] if k + 1 < len(parts) else end
        gaps.append(f"{s + n}-{stop - 1}")
    without = head + '[disc]\nprofile = "cd-r"\nimage = "composite.iso"\n\n[[damage]]\nlbas = "' + ", ".join(gaps) \
        + '"\nkind = "unreadable"\nsense = "05/64/00"\n'
    (tmp / "without.toml").write_text(without)
    a = run(tmp / "with.toml", tmp / "with.iso")
    b = run(tmp / "without.toml", tmp / "without.iso")
    print(f"{count} sessions x {sectors} sectors, {end} LBAs, "
          f"{sum(int(g.split('-')[1]) - int(g.split('-')[0]) + 1 for g in gaps)} not recorded")
    for name, r in (("with layout", a), ("without (gaps as damage)", b)):
        print(f"  {name:26} exit {r['exit']}  drive time {r['elapsed_s']:10.1f} s  unreadable {r['unreadable']:6}  "
              f"reads {r['reads']:5}  failed reads {r['failed_reads']:5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[2, 3])
    parser.add_argument("--sectors", type=int, default=2000)
    args = parser.parse_args()
    for count in args.sessions:
        with tempfile.TemporaryDirectory() as tmp:
            case(Path(tmp), count, args.sectors)


if __name__ == "__main__":
    main()
