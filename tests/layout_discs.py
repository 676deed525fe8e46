"""Discs laid out from [[track]]s for tests: multisession ISO images made with xorriso (growisofs
style, `-C LAST_START,NEXT_START -M PREVIOUS`), placed at real gap sizes in a profile.

Each session's image is written by xorriso at its own start LBA, so a later session's directory
points into the earlier one exactly as on a disc (docs/reference/contracts.md "The simulated drive's profile").
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

SECTOR = 2048
RUN_OUT = 2                    # TAO: 2 run-out blocks after each data track
CD_GAPS = (11_400, 6_900)      # lead-out + lead-in + pre-gap after the first session, after later ones


def session_images(tmp: Path, sessions: int, *, seed: int = 5, gaps: tuple[int, int] = CD_GAPS,
                   run_out: int = RUN_OUT) -> list[tuple[int, Path]]:
    """(start LBA, image) of each session: session k adds files k_*.bin to the tree before it."""
    rng = random.Random(seed)
    out: list[tuple[int, Path]] = []
    start = 0
    for k in range(1, sessions + 1):
        tree = tmp / f"tree{k}"
        tree.mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (tree / f"s{k}_{i}.bin").write_bytes(rng.randbytes(rng.randrange(40_000, 160_000)))
        image = tmp / f"session{k}.iso"
        command = ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(image)]
        if out:
            # -M reads the earlier sessions from a file that is the disc from LBA 0
            disc = tmp / f"disc-before-{k}.iso"
            _disc_so_far(disc, out)
            command += ["-C", f"{out[-1][0]},{start}", "-M", str(disc)]
        subprocess.run([*command, str(tree)], check=True, capture_output=True)
        out.append((start, image))
        sectors = image.stat().st_size // SECTOR
        start = start + sectors + run_out + gaps[k > 1]
    return out


def _disc_so_far(path: Path, sessions: list[tuple[int, Path]]) -> None:
    with open(path, "wb") as f:
        for start, image in sessions:
            f.seek(start * SECTOR)
            f.write(image.read_bytes())


def profile_text(sessions: list[tuple[int, Path]], *, profile: str = "cd-r", write: str = "tao",
                 extra_disc: str = "", damage: list[str] = (), drive: str = 'serial = "SIM-L"\ntrace = "reads.log"',
                 open_last: bool = False, modes: dict[int, str] | None = None) -> str:
    lines = ["[drive]", drive, "", "[disc]", f'profile = "{profile}"', extra_disc,
             "", "[timing]", "error_delay_s = 2.0"]
    for number, (start, image) in enumerate(sessions, 1):
        lines += ["", "[[track]]", f"number = {number}", f"session = {number}", f"start = {start}",
                  f'image = "{image.name}"', f'write = "{write}"']
        if open_last and number == len(sessions):
            lines.append("open = true")
        if modes and number in modes:
            lines.append(f'mode = "{modes[number]}"')
    for entry in damage:
        lines += ["", "[[damage]]", entry]
    return "\n".join(lines) + "\n"


def expected_image(sessions: list[tuple[int, Path]], sectors: int) -> bytes:
    """The image acquire must write: each session's bytes at its LBAs, zeros everywhere else."""
    data = bytearray(sectors * SECTOR)
    for start, image in sessions:
        body = image.read_bytes()
        data[start * SECTOR:start * SECTOR + len(body)] = body
    return bytes(data)
