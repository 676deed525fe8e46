"""What keeping an audio track's reads (acquire/audio/journal.py) costs the host, and what a resume
replays: one audio track of --seconds ripped in-process from the simulated drive, once through a
plain CddaReader, once through a JournaledReader writing its journal, then once more replaying that
whole journal (a resume that stopped just before the end). Prints wall seconds, the journal's
bytes per sector, and the sectors the drive was asked for in each.

    python benchmarks/audio_journal.py                 # 60 s of audio (4,500 sectors)
    python benchmarks/audio_journal.py --seconds 300
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from acquire.audio import journal  # noqa: E402
from acquire.audio.rip import TrackRipper  # noqa: E402
from acquire.drive.cdda import CddaReader  # noqa: E402
from acquire.drive.device import open_drive  # noqa: E402
from audio_discs import make_wav  # noqa: E402  (the tests' WAV builder)


def rip(profile: Path, sectors: int, where: Path | None) -> tuple[float, int]:
    """(wall seconds of the rip, sectors it asked the drive for: through the journal, those not replayed)"""
    drive = open_drive(f"sim:{profile}")
    try:
        drive.wait_ready()
        reader = CddaReader(drive).probe(0)
        reads = None
        if where is not None:
            reads = journal.Journal(where, {"bench": 1}, reader.c2, {0: 0, 1: 96, 2: 16}[reader.subchannel]).open()
            reader = journal.JournaledReader(reader, reads)
        start = time.perf_counter()
        ripper = TrackRipper(reader, reader.clock if reads else (lambda: drive.clock_s), disc_end=sectors,
                             far_lba=sectors - 1)
        ripper.rip(0, sectors, 6)
        wall = time.perf_counter() - start
        if reads is not None:
            reads.close()
        return wall, reader.live_sectors if reads is not None else ripper.reads
    finally:
        drive.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    sectors = args.seconds * 75
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_wav(tmp / "t.wav", sectors, 3)
        profile = tmp / "disc.toml"
        profile.write_text('[drive]\nread_offset = 6\noverread = true\n[disc]\nprofile = "cd-rom"\n'
                           '[[track]]\nnumber = 1\nmode = "audio"\nstart = 0\nimage = "t.wav"\n')
        where = tmp / "01.reads"
        plain, _ = rip(profile, sectors, None)
        kept, live = rip(profile, sectors, where)
        size = where.stat().st_size
        replay, live_again = rip(profile, sectors, where)
    print(f"one audio track of {args.seconds} s ({sectors} sectors), two passes, C2 and formatted Q")
    print(f"plain rip                {plain:7.2f} s wall")
    print(f"rip with its journal     {kept:7.2f} s wall, {live} sectors from the drive, journal {size} bytes "
          f"({size / sectors:.0f} bytes a sector of the track)")
    print(f"replay of the journal    {replay:7.2f} s wall, {live_again} sectors from the drive")


if __name__ == "__main__":
    main()
