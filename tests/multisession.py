"""Multisession test discs: real sessions made by xorriso and genisoimage, placed at their real LBAs.

Each builder makes the sessions one after the other the way a burner does: the next session's
image is made against the disc so far (`-M` the composite image, `-C LAST_START,NEXT_START`, or
xorriso's `-grow_blindly NEXT_START`), so that its directories point into the earlier sessions
exactly as on a disc; then it is placed at its start LBA. Every builder returns a `Disc`: the
per-session images, the composite image (every session at its LBA, zeros where nothing is recorded:
what an acquisition of the disc holds), the not-recorded ranges, and a simulated-drive profile TOML
in the [[track]] syntax of docs/reference/contracts.md "The simulated drive's profile" that places the sessions (docs/fs.md "Multisession test discs").

    disc = cd_r_two_sessions(tmp_path)        # session 2 deletes /gone.bin and replaces /replaced.bin
    disc = cd_r_three_sessions(tmp_path)      # genisoimage, xorriso -as mkisofs -C -M, genisoimage -C -M
    disc = cd_r_joliet_sessions(tmp_path)     # ISO 9660 + Joliet only, as Windows burners write
    disc = dvd_r_three_borders(tmp_path)      # three borders of xorriso -grow_blindly
    disc = overwriteable_stdio(tmp_path)      # xorriso -dev FILE, three -commit: DVD+RW / file style
    oracle = xorriso_listing(disc.image, disc.sessions[0].start)   # path -> extents of that session

The gaps (docs/fs.md "Multisession test discs", with sources): a TAO data track ends in 2 run-out
blocks that are counted in the track but hold no data; between sessions of a CD lie the lead-out
of the earlier session and the lead-in and pre-gap of the next: 6,750 + 4,500 + 150 = 11,400
sectors after the first session (its lead-out is 90 s), 2,250 + 4,500 + 150 = 6,900 after later
ones (30 s lead-outs); libburn's doc/cookbook.txt gives the same next writable addresses.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SECTOR = 2048
TAO_RUN_OUT_BLOCKS = 2                 # run-out after every TAO data track (Orange Book; docs/reference/mmc.md "READ CAPACITY(10)")
CD_FIRST_SESSION_GAP = 6_750 + 4_500 + 150     # 90 s lead-out + 60 s lead-in + 2 s pre-gap, in sectors
CD_LATER_SESSION_GAP = 2_250 + 4_500 + 150     # 30 s lead-out + 60 s lead-in + 2 s pre-gap
# DVD-R: the Border Zone (Border-out + Border-in) between borders. Not confirmed against ECMA-382 /
# DVD-R for General: a stand-in figure of the right order, kept a parameter of dvd_r_three_borders.
DVD_R_BORDER_ZONE = 16_384

TOOLS = ("xorriso", "genisoimage", "isoinfo")


def tools_missing() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


@dataclass(frozen=True)
class Session:
    number: int
    start: int                 # first LBA of its (only) track; the volume descriptors are at start + 16
    image: Path                # the session's sectors from `start` on, as the tool wrote them
    sectors: int               # sectors in `image`
    run_out: int = 0           # unreadable blocks counted in the track after the data (TAO: 2)

    @property
    def track_end(self) -> int:
        """The first LBA after the track (its run-out blocks included)."""
        return self.start + self.sectors + self.run_out


@dataclass
class Disc:
    medium: str                                    # the [disc] profile: cd-r | dvd-r | dvd-rw ...
    directory: Path
    sessions: list[Session] = field(default_factory=list)
    image: Path | None = None                      # every session at its LBA, zeros elsewhere
    profile: Path | None = None                    # the simulated drive's profile placing the sessions
    single_track_image: bool = False               # True: one image holds everything (overwriteable media)

    @property
    def starts(self) -> list[int]:
        return [s.start for s in self.sessions]

    @property
    def sectors(self) -> int:
        """What READ CAPACITY reports: up to the last track's end (its run-out included)."""
        return self.sessions[-1].track_end if self.sessions else 0

    def not_recorded(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) LBA ranges that hold no data: run-out blocks and session gaps."""
        out: list[tuple[int, int]] = []
        if self.single_track_image:
            return out                            # overwriteable media: one track, all recorded
        for before, after in zip(self.sessions, self.sessions[1:] + [None]):
            data_end = before.start + before.sectors
            end = after.start if after is not None else before.track_end
            if end > data_end:
                out.append((data_end, end - 1))
        return out


# --- file trees ------------------------------------------------------------------------------------


def write_tree(root: Path, files: dict[str, int | bytes], seed: int) -> Path:
    """Files of seeded random bytes (or given bytes) under root; every 2048-byte block unique."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else rng.randbytes(body))
    return root


def _run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done.stdout + done.stderr


def _sectors(path: Path) -> int:
    size = path.stat().st_size
    assert size % SECTOR == 0, f"{path} is not whole sectors"
    return size // SECTOR


# --- one session each ------------------------------------------------------------------------------


def genisoimage_first(tree: Path, out: Path, volid: str) -> Path:
    _run("genisoimage", "-quiet", "-R", "-J", "-V", volid, "-o", out, tree)
    return out


def genisoimage_next(tree: Path, out: Path, disc_so_far: Path, last_start: int, next_start: int,
                     volid: str) -> Path:
    """`genisoimage -C LAST_START,NEXT_START -M PREVIOUS`: the earlier tree merged in; a file at the
    same path in `tree` replaces the earlier one (a new extent in this session)."""
    _run("genisoimage", "-quiet", "-R", "-J", "-V", volid, "-C", f"{last_start},{next_start}",
         "-M", disc_so_far, "-o", out, tree)
    return out


def xorriso_mkisofs_next(tree: Path, out: Path, disc_so_far: Path, last_start: int, next_start: int,
                         volid: str) -> Path:
    """growisofs style: `xorriso -as mkisofs -C LAST_START,NEXT_START -M PREVIOUS`."""
    _run("xorriso", "-as", "mkisofs", "-R", "-J", "-V", volid, "-C", f"{last_start},{next_start}",
         "-M", disc_so_far, "-o", out, tree)
    return out


def xorriso_grow(disc_so_far: Path, out: Path, next_start: int, *, last_start: int | None = None,
                 remove: list[str] = (), add: dict[str, Path] | None = None, volid: str = "") -> Path:
    """xorriso native: load the last session of the disc so far, remove and add files, and write the
    new session alone into `out` for `next_start` (`-grow_blindly`): deletion, which mkisofs cannot do."""
    args: list[str | Path] = ["xorriso", "-indev", disc_so_far]
    if last_start is not None:
        args += ["-load", "sbsector", str(last_start)]
    args += ["-outdev", out, "-grow_blindly", str(next_start), "-joliet", "on"]
    if volid:
        args += ["-volid", volid]
    if remove:
        args += ["-rm", *remove, "--"]
    for iso_path, disk_path in (add or {}).items():
        args += ["-map", disk_path, iso_path]
    _run(*args, "-commit")
    return out


# --- placing sessions ------------------------------------------------------------------------------


def place(disc: Disc, session: Session) -> None:
    """Write `session` at its LBA into the composite image, which grows to the track's end."""
    disc.sessions.append(session)
    with open(disc.image, "r+b" if disc.image.exists() else "wb") as f:
        f.seek(session.start * SECTOR)
        with open(session.image, "rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)
        f.truncate(session.track_end * SECTOR)       # zeros: the run-out blocks (sparse)


def next_start_cd(disc: Disc) -> int:
    last = disc.sessions[-1]
    return last.track_end + (CD_FIRST_SESSION_GAP if len(disc.sessions) == 1 else CD_LATER_SESSION_GAP)


def write_profile(disc: Disc, *, serial: str = "SIM-MS", write: str | None = "tao") -> Path:
    """The simulated drive's profile: one [[track]] a session, each bringing its own image."""
    lines = ["# made by tests/multisession.py: each session's image at its start LBA (docs/fs.md)",
             "[drive]", f'serial = "{serial}"', "", "[disc]", f'profile = "{disc.medium}"']
    if disc.single_track_image:
        lines.append(f'image = "{disc.image.name}"')
    for s in disc.sessions if not disc.single_track_image else ():
        lines += ["", "[[track]]", f"number = {s.number}", f"session = {s.number}", 'mode = "mode1"',
                  f"start = {s.start}", f'image = "{s.image.relative_to(disc.directory)}"']
        if write is not None:
            lines.append(f'write = "{write}"')
    disc.profile = disc.directory / "disc.toml"
    disc.profile.write_text("\n".join(lines) + "\n")
    return disc.profile


# --- scenarios -------------------------------------------------------------------------------------

# session 1's tree; later sessions delete, replace and add (the sizes give several-sector extents)
SESSION1_FILES = {"keep.txt": 5000, "gone.bin": 9000, "replaced.bin": 7000, "docs/deep/old.txt": 3000,
                  "docs/kept.bin": 4100}


def cd_r_two_sessions(directory: Path) -> Disc:
    """A TAO CD-R: session 1 by genisoimage; session 2 by xorriso, which deletes /gone.bin and
    /docs/deep/old.txt, replaces /replaced.bin (same path, other content and extent) and adds /new.txt."""
    directory.mkdir(parents=True, exist_ok=True)
    disc = Disc("cd-r", directory, image=directory / "disc.iso")
    s1 = genisoimage_first(write_tree(directory / "tree1", SESSION1_FILES, seed=1), directory / "session1.iso",
                           "MS_SESSION_1")
    place(disc, Session(1, 0, s1, _sectors(s1), TAO_RUN_OUT_BLOCKS))
    start2 = next_start_cd(disc)
    t2 = write_tree(directory / "tree2", {"replaced.bin": 11000, "new.txt": 2500}, seed=2)
    s2 = xorriso_grow(disc.image, directory / "session2.iso", start2, remove=["/gone.bin", "/docs/deep/old.txt"],
                      add={"/replaced.bin": t2 / "replaced.bin", "/new.txt": t2 / "new.txt"}, volid="MS_SESSION_2")
    place(disc, Session(2, start2, s2, _sectors(s2), TAO_RUN_OUT_BLOCKS))
    write_profile(disc)
    return disc


def cd_r_three_sessions(directory: Path) -> Disc:
    """A TAO CD-R of three sessions, each by another tool: genisoimage; xorriso -as mkisofs -C -M
    (growisofs style; replaces /replaced.bin, adds /second.bin); genisoimage -C -M (replaces
    /keep.txt, adds /third/t.bin). Nothing is deleted: mkisofs merges the earlier tree whole."""
    directory.mkdir(parents=True, exist_ok=True)
    disc = Disc("cd-r", directory, image=directory / "disc.iso")
    s1 = genisoimage_first(write_tree(directory / "tree1", SESSION1_FILES, seed=1), directory / "session1.iso",
                           "MS3_SESSION_1")
    place(disc, Session(1, 0, s1, _sectors(s1), TAO_RUN_OUT_BLOCKS))
    start2 = next_start_cd(disc)
    t2 = write_tree(directory / "tree2", {"replaced.bin": 11000, "second.bin": 6000}, seed=2)
    s2 = xorriso_mkisofs_next(t2, directory / "session2.iso", disc.image, 0, start2, "MS3_SESSION_2")
    place(disc, Session(2, start2, s2, _sectors(s2), TAO_RUN_OUT_BLOCKS))
    start3 = next_start_cd(disc)
    t3 = write_tree(directory / "tree3", {"keep.txt": 8000, "third/t.bin": 2048}, seed=3)
    s3 = genisoimage_next(t3, directory / "session3.iso", disc.image, start2, start3, "MS3_SESSION_3")
    place(disc, Session(3, start3, s3, _sectors(s3), TAO_RUN_OUT_BLOCKS))
    write_profile(disc)
    return disc


def cd_r_joliet_sessions(directory: Path) -> Disc:
    """Two TAO sessions as a Windows burner leaves them: ISO 9660 (8.3 names) and Joliet, no Rock
    Ridge; both by genisoimage -J (session 2 with -C -M), which replaces "/Quarterly Report.doc"."""
    directory.mkdir(parents=True, exist_ok=True)
    disc = Disc("cd-r", directory, image=directory / "disc.iso")
    t1 = write_tree(directory / "tree1", {"Quarterly Report.doc": 9000, "Notes For Later.txt": 3000}, seed=4)
    s1 = directory / "session1.iso"
    _run("genisoimage", "-quiet", "-J", "-V", "JOLIET_1", "-o", s1, t1)
    place(disc, Session(1, 0, s1, _sectors(s1), TAO_RUN_OUT_BLOCKS))
    start2 = next_start_cd(disc)
    t2 = write_tree(directory / "tree2", {"Quarterly Report.doc": 12000}, seed=5)
    s2 = directory / "session2.iso"
    _run("genisoimage", "-quiet", "-J", "-V", "JOLIET_2", "-C", f"0,{start2}", "-M", disc.image, "-o", s2, t2)
    place(disc, Session(2, start2, s2, _sectors(s2), TAO_RUN_OUT_BLOCKS))
    write_profile(disc)
    return disc


def dvd_r_three_borders(directory: Path, border_zone: int = DVD_R_BORDER_ZONE) -> Disc:
    """A DVD-R (incremental) of three borders, each session by xorriso -grow_blindly: border 2 deletes
    /gone.bin, border 3 replaces /replaced.bin. No run-out blocks (a CD's TAO linking); between
    borders, `border_zone` sectors that hold no user data."""
    directory.mkdir(parents=True, exist_ok=True)
    disc = Disc("dvd-r", directory, image=directory / "disc.iso")
    s1 = genisoimage_first(write_tree(directory / "tree1", SESSION1_FILES, seed=1), directory / "border1.iso",
                           "DVD_BORDER_1")
    place(disc, Session(1, 0, s1, _sectors(s1)))
    start2 = disc.sessions[-1].track_end + border_zone
    t2 = write_tree(directory / "tree2", {"second.bin": 20000}, seed=2)
    s2 = xorriso_grow(disc.image, directory / "border2.iso", start2, remove=["/gone.bin"],
                      add={"/second.bin": t2 / "second.bin"}, volid="DVD_BORDER_2")
    place(disc, Session(2, start2, s2, _sectors(s2)))
    start3 = disc.sessions[-1].track_end + border_zone
    t3 = write_tree(directory / "tree3", {"replaced.bin": 13000}, seed=3)
    s3 = xorriso_grow(disc.image, directory / "border3.iso", start3, last_start=start2,
                      add={"/replaced.bin": t3 / "replaced.bin"}, volid="DVD_BORDER_3")
    place(disc, Session(3, start3, s3, _sectors(s3)))
    write_profile(disc, write=None)
    return disc


def overwriteable_stdio(directory: Path) -> Disc:
    """`xorriso -dev FILE` with three `-commit`s: the overwriteable-media model (DVD+RW, DVD-RW
    restricted overwrite, a file). xorriso starts the first session at LBA 32, and after each session
    copies the newest volume descriptors to LBA 16, so LBA 16 shows only the last tree; the sessions
    (sbsector in `xorriso -toc`) keep their own descriptors. One image, one track."""
    directory.mkdir(parents=True, exist_ok=True)
    image = directory / "disc.iso"
    t1 = write_tree(directory / "tree1", SESSION1_FILES, seed=1)
    t2 = write_tree(directory / "tree2", {"replaced.bin": 11000}, seed=2)
    t3 = write_tree(directory / "tree3", {"third.bin": 3000}, seed=3)
    _run("xorriso", "-dev", image, "-volid", "STDIO_1", "-map", t1, "/", "-commit")
    _run("xorriso", "-dev", image, "-volid", "STDIO_2", "-rm", "/gone.bin", "--",
         "-map", t2 / "replaced.bin", "/replaced.bin", "-commit")
    _run("xorriso", "-dev", image, "-volid", "STDIO_3", "-map", t3 / "third.bin", "/third.bin", "-commit")
    disc = Disc("dvd-rw", directory, image=image, single_track_image=True)
    total = _sectors(image)
    starts = xorriso_toc(image)
    for number, (start, size) in enumerate(starts, 1):
        disc.sessions.append(Session(number, start, image, size))
    # the sessions are views of one image: READ CAPACITY is the file's size
    disc.sessions[-1] = Session(len(starts), starts[-1][0], image, total - starts[-1][0])
    write_profile(disc, write=None)
    return disc


# --- oracles ---------------------------------------------------------------------------------------

_TOC_LINE = re.compile(r"^ISO session\s*:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)s", re.M)
_LBA_LINE = re.compile(r"^File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'$", re.M)


def xorriso_toc(image: Path) -> list[tuple[int, int]]:
    """(sbsector, size in sectors) of each ISO session xorriso finds in an image file."""
    return [(int(m[2]), int(m[3])) for m in _TOC_LINE.finditer(_run("xorriso", "-indev", image, "-toc"))]


def xorriso_listing(image: Path, sbsector: int) -> dict[str, list[tuple[int, int]]]:
    """path -> [(lba, sectors)] of every data file of the session whose volume descriptors are at
    sbsector + 16, by `xorriso -load sbsector N -find / -exec report_lba` (an independent reader)."""
    out = _run("xorriso", "-indev", image, "-load", "sbsector", str(sbsector), "-find", "/", "-exec", "report_lba", "--")
    files: dict[str, list[tuple[int, int]]] = {}
    for m in _LBA_LINE.finditer(out):
        files.setdefault(m[5], []).append((int(m[2]), int(m[3])))
    return files


def isoinfo_listing(image: Path, sbsector: int, *, session_only: bool = False,
                    joliet: bool = False) -> dict[str, tuple[int, int]]:
    """path -> (first lba, size in bytes) of every file of that session, by `isoinfo -T SBSECTOR -R -l`
    on the whole disc image, or with `session_only` `isoinfo -N SBSECTOR -R -l` on the session's own
    image (as mkisofs -C wrote it) (genisoimage's reader, independent of xorriso). A listing reads
    directory records only, and a session's directories lie in its own image, so -N lists the files
    the session kept from earlier ones too, at their earlier LBAs. `joliet`: the Joliet tree (-J)."""
    flag = "-N" if session_only else "-T"
    out = _run("isoinfo", "-i", image, flag, str(sbsector), "-J" if joliet else "-R", "-l")
    files: dict[str, tuple[int, int]] = {}
    directory = "/"
    for line in out.splitlines():
        if line.startswith("Directory listing of "):
            directory = line[len("Directory listing of "):].strip()
            continue
        m = re.match(r"^([-d])\S+\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\w+\s+\d+\s+\d+\s+\[\s*(\d+)\s+\d+\]\s+(.*?)\s*$", line)
        if m and m[1] == "-" and m[4] not in (".", ".."):
            files[directory.rstrip("/") + "/" + m[4]] = (int(m[3]), int(m[2]))
    return files
