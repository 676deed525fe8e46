"""Independent readers of an image's file tree: xorriso, The Sleuth Kit, 7-Zip, isoinfo, udfinfo;
for HFS+ The Sleuth Kit (-f hfs), for classic HFS hfsutils.

Each runs as a subprocess on the image (never the disc) and its output is parsed into a Listing
(paths, sizes, first-extent LBAs where it gives them). A reader that is not installed is a Listing
with `skipped` naming its Debian package; a reader that fails says how, in one line.
Output formats were read from the tools themselves (xorriso 1.5.4, TSK 4.12, 7-Zip 16.02 and 26,
genisoimage isoinfo 1.1.11, udftools 2.3, hfsutils 3.2.6); see docs/validate.md.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .tree import RESOURCE_FORK, Listing, Seen, norm

TIMEOUT_S = 300
MAX_ISTAT = 2000                       # istat runs once per file: at most this many files get an LBA
PACKAGES = {"xorriso": "xorriso", "sleuthkit": "sleuthkit", "7z": "p7zip-full", "isoinfo": "genisoimage",
            "udfinfo": "udftools", "hfsutils": "hfsutils"}
HFS_RESERVED_CNIDS = 16                # TN1150: CNIDs below 16 are Apple's (fls lists $ExtentsFile ... as files)


def _run(cmd: list[str], timeout: float = TIMEOUT_S, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The reader's output; one that hangs is stopped and reported as failed, never waited on."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -9, "", f"{cmd[0]} did not finish within {timeout:g} s")


def _missing(reader: str, exe: str, command: str) -> Listing | None:
    if shutil.which(exe):
        return None
    return Listing(reader, PACKAGES[reader], command,
                   skipped=f"{exe} is not installed (apt-get install {PACKAGES[reader]})")


def _failed(listing: Listing, done: subprocess.CompletedProcess) -> Listing:
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    listing.error = f"exit {done.returncode}: {tail[0][:300]}"
    return listing


def _add(listing: Listing, seen: Seen) -> None:
    key = norm(seen.path)
    if key != "/":
        old = listing.entries.get(key)
        listing.entries[key] = seen if old is None else Seen(
            old.path, old.is_dir if old.is_dir is not None else seen.is_dir,
            old.size if old.size is not None else seen.size, old.lba if old.lba is not None else seen.lba)


# why a reader cannot be pointed at a data session that does not start at LBA 0 (tried on
# xorriso 1.5.4, TSK 4.12, 7-Zip 16.02 with an image whose only volume is at LBA 11700, extents absolute)
NOT_AT_SESSION = {
    "xorriso": "xorriso takes an image file with no volume at LBA 16 for blank media and refuses "
               "-load sbsector (\"Non-zero load offset given with blank input media\")",
    "sleuthkit": "fls -o moves the whole file system, but the session's extents are absolute LBAs "
                 "(it reads past the image's end)",
    "7z": "7-Zip reads the volume at LBA 16 only and has no session or offset option",
}


def not_at_session(reader: str, session: int) -> Listing:
    """A reader skipped, with why, on a data session at `session` (not LBA 0)."""
    return Listing(reader, PACKAGES[reader], "", skipped=f"the data session starts at LBA {session}: "
                   f"{NOT_AT_SESSION[reader]}")


# --- xorriso ----------------------------------------------------------------------------------------

_LSDL = re.compile(r"^([-dlbcps])\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+'(.*)'$")
# "File data lba:  0 ,       36 ,        1 ,        6 , '/Sub/Hello_World.txt'" (xt, start, blocks, size, path)
_REPORT_LBA = re.compile(r"^File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'$")


def _unquote(text: str) -> str:
    return text.replace("'\"'\"'", "'")


def xorriso(image: Path) -> Listing:
    cmd = ["xorriso", "-abort_on", "NEVER", "-indev", str(image), "-find", "/", "-exec", "lsdl", "--",
           "-find", "/", "-exec", "report_lba", "--"]
    listing = _missing("xorriso", "xorriso", " ".join(cmd[:1] + cmd[3:])) or Listing("xorriso", "xorriso", " ".join(cmd))
    if listing.skipped:
        return listing
    done = _run(cmd)
    if done.returncode != 0 and "lba" not in done.stdout:
        return _failed(listing, done)
    sizes: dict[str, Seen] = {}
    for line in done.stdout.splitlines():
        if m := _LSDL.match(line):
            path = _unquote(m[3])
            sizes[path] = Seen(path, m[1] == "d", None if m[1] == "d" else int(m[2]))
        elif (m := _REPORT_LBA.match(line)) and m[1] == "0":
            path = _unquote(m[5])
            base = sizes.get(path, Seen(path, False, int(m[4])))
            sizes[path] = Seen(path, False, base.size, int(m[2]))
    for seen in sizes.values():
        _add(listing, seen)
    return listing


# --- The Sleuth Kit -----------------------------------------------------------------------------------

# fls -l: "r/r 5:<TAB>boot/grub/grub.cfg<TAB>mtime<TAB>atime<TAB>ctime<TAB>crtime<TAB>size<TAB>uid<TAB>gid"
_FLS = re.compile(r"^([-a-zA-Z])/([-a-zA-Z])\s+(\*\s+)?([0-9-]+)(?:-\d+-\d+)?:\t(.*)$")


def sleuthkit(image: Path, fstype: str = "iso9660", offset: int = 0) -> Listing:
    cmd = ["fls", "-r", "-p", "-l", "-f", fstype, *(["-o", str(offset)] if offset else []), str(image)]
    listing = _missing("sleuthkit", "fls", " ".join(cmd)) or Listing("sleuthkit", "sleuthkit", " ".join(cmd) + "; istat")
    if listing.skipped:
        return listing
    done = _run(cmd)
    if done.returncode != 0:
        return _failed(listing, done)
    files = []
    for line in done.stdout.splitlines():
        m = _FLS.match(line)
        if not m or m[1] == "V" or m[3]:              # $OrphanFiles and the like; deleted entries
            continue
        cols = m[5].split("\t")
        path, size = "/" + cols[0], int(cols[5]) if len(cols) > 5 and cols[5].isdigit() else None
        is_dir = m[2] == "d"
        files.append((m[4], path, is_dir, size))
    for count, (inode, path, is_dir, size) in enumerate(files):
        lba = _istat_first_sector(image, fstype, offset, inode) if not is_dir and size and count < MAX_ISTAT else None
        _add(listing, Seen(path, is_dir, None if is_dir else size, lba))
    return listing


def sleuthkit_hfsplus(image: Path, offset_bytes: int, block_size: int) -> Listing:
    """An HFS+ volume `offset_bytes` into the image (an APM partition, a hybrid's): fls -f hfs -o in
    512-byte sectors, data forks only (fls lists no resource forks), Apple's reserved files left out;
    istat's first data fork block, as an image LBA when the volume's blocks fall on 2048-byte sectors."""
    offset = offset_bytes // 512
    cmd = ["fls", "-r", "-p", "-l", "-f", "hfs", *(["-o", str(offset)] if offset else []), str(image)]
    reader = "sleuthkit (hfs+)"
    listing = _missing("sleuthkit", "fls", " ".join(cmd))
    if listing is not None:
        listing.reader = reader
        return listing
    listing = Listing(reader, "sleuthkit", " ".join(cmd) + "; istat")
    done = _run(cmd)
    if done.returncode != 0:
        return _failed(listing, done)
    count = 0
    for line in done.stdout.splitlines():
        m = _FLS.match(line)
        if not m or m[1] == "V" or m[3] or not m[4].isdigit() or int(m[4]) < HFS_RESERVED_CNIDS:
            continue
        cols = m[5].split("\t")
        is_dir = m[2] == "d"
        size = int(cols[5]) if len(cols) > 5 and cols[5].isdigit() else None
        lba = None
        if not is_dir and size and count < MAX_ISTAT:
            count += 1
            block = _istat_first_block(image, offset, m[4])
            at = None if block is None else offset_bytes + block * block_size
            lba = at // 2048 if at is not None and at % 2048 == 0 else None
        _add(listing, Seen("/" + cols[0], is_dir, None if is_dir else size, lba))
    return listing


def _istat_first_block(image: Path, offset: int, inode: str) -> int | None:
    """istat -f hfs: 'Data Fork Blocks:' then runs of allocation blocks ('8-10')."""
    done = _run(["istat", "-f", "hfs", *(["-o", str(offset)] if offset else []), str(image), inode], timeout=60)
    at = done.stdout.find("Data Fork Blocks:")
    if done.returncode != 0 or at < 0:
        return None
    first = done.stdout[at + len("Data Fork Blocks:"):].split()
    head = first[0].split("-")[0] if first else ""
    return int(head) if head.isdigit() else None


def _istat_first_sector(image: Path, fstype: str, offset: int, inode: str) -> int | None:
    done = _run(["istat", "-f", fstype, *(["-o", str(offset)] if offset else []), str(image), inode], timeout=60)
    text = done.stdout
    at = text.find("Sectors:")
    if done.returncode != 0 or at < 0:
        return None
    first = text[at + len("Sectors:"):].split()
    return int(first[0]) if first and first[0].isdigit() else None


# --- 7-Zip ----------------------------------------------------------------------------------------------

def seven_zip(image: Path, archive_type: str = "iso") -> Listing:
    exe = shutil.which("7z") or shutil.which("7za") or "7z"
    cmd = [exe, "l", "-slt", f"-t{archive_type}", str(image)]
    listing = _missing("7z", "7z", " ".join(cmd)) or Listing("7z", "p7zip-full", " ".join(["7z", *cmd[1:]]))
    if listing.skipped:
        return listing
    done = _run(cmd)
    if done.returncode != 0 or "----------" not in done.stdout:
        return _failed(listing, done)
    body = done.stdout.split("----------", 1)[1]
    for block in body.split("\n\n"):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        path = fields.get("Path")
        if not path or path.startswith("[BOOT]"):     # El Torito images 7-Zip shows as files
            continue
        is_dir = fields.get("Folder") == "+"
        size = fields.get("Size", "")
        _add(listing, Seen("/" + path, is_dir, None if is_dir or not size.isdigit() else int(size)))
    return listing


# --- isoinfo --------------------------------------------------------------------------------------------

# "-r--r--r--   1    0    0            1705 May  3 2026 [   1218 00]  grub.cfg "
_ISOINFO = re.compile(r"^([-d])\S*\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+\d+\s+\d+\s+\[\s*(\d+)\s+\w+\]\s\s(.*?) ?$")


def isoinfo(image: Path, namespace: str, session: int = 0) -> Listing:
    """namespace: '-R' (Rock Ridge), '-J' (Joliet) or '' (plain ISO 9660 names); session: the LBA
    of a data session that does not start at 0 (-T: its descriptors at session + 16, its extents
    absolute, as a disc's are)."""
    cmd = ["isoinfo", "-i", str(image), *(["-T", str(session)] if session else []), "-l",
           *([namespace] if namespace else [])]
    name = "isoinfo"
    listing = _missing(name, "isoinfo", " ".join(cmd)) or Listing(name, "genisoimage", " ".join(cmd))
    if listing.skipped:
        return listing
    done = _run(cmd)
    if done.returncode != 0:
        return _failed(listing, done)
    directory = "/"
    for line in done.stdout.splitlines():
        if line.startswith("Directory listing of "):
            directory = line[len("Directory listing of "):].rstrip()
            continue
        m = _ISOINFO.match(line)
        if not m or m[4] in (".", ".."):
            continue
        is_dir = m[1] == "d"
        _add(listing, Seen(directory.rstrip("/") + "/" + m[4], is_dir, None if is_dir else int(m[2]),
                           None if is_dir or m[2] == "0" else int(m[3])))
    return listing


# --- udfinfo ----------------------------------------------------------------------------------------------

def udfinfo(image: Path) -> tuple[Listing, dict[str, str]]:
    """udfinfo gives the volume, not the tree: (a Listing with no entries, its key=value fields)."""
    cmd = ["udfinfo", str(image)]
    listing = _missing("udfinfo", "udfinfo", " ".join(cmd)) or Listing("udfinfo", "udftools", " ".join(cmd))
    if listing.skipped:
        return listing, {}
    done = _run(cmd)
    if done.returncode != 0:
        return _failed(listing, done), {}
    return listing, dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


# --- hfsutils ---------------------------------------------------------------------------------------------

# hls -laR: "f  TEXT/ttxt         0      5000 Jan 24  1999 Read Me" (flags, type/creator, resource and data
# bytes, date, name); "d          2 items               Dec  3 08:53 Docs"; ":Docs:Deep:" heads a folder
_HLS_DATE = r"\w{3} [ \d]\d (?: \d{4}|\d\d:\d\d)"
_HLS_FILE = re.compile(rf"^f\S*\s+.{{4}}/.{{4}}\s+(\d+)\s+(\d+) {_HLS_DATE} (.*)$")
_HLS_DIR = re.compile(rf"^d\S*\s+\d+ items?\s+{_HLS_DATE} (.*)$")


def hfsutils(image: Path, partition: int = 0) -> Listing:
    """A classic HFS volume: hmount IMAGE [PARTITION] (the ordinal of the Apple_HFS partition, 0:
    an unpartitioned volume), hls -laR, humount. hfsutils keeps its mounted volume in $HOME/.hcwd:
    each run gets its own HOME, so runs never share or overwrite that state."""
    mount = ["hmount", str(image), *([str(partition)] if partition else [])]
    listing = _missing("hfsutils", "hmount", " ".join(mount)) or Listing(
        "hfsutils", "hfsutils", " ".join(mount) + "; hls -laR; humount")
    if listing.skipped:
        return listing
    with tempfile.TemporaryDirectory(prefix="acquire-hfsutils-") as home:
        env = {**os.environ, "HOME": home}
        done = _run(mount, env=env)
        if done.returncode != 0:
            return _failed(listing, done)
        try:
            done = _run(["hls", "-laR"], env=env)
        finally:
            _run(["humount"], env=env)
    if done.returncode != 0:
        return _failed(listing, done)
    for seen in parse_hls(done.stdout):
        _add(listing, seen)
    return listing


def parse_hls(text: str) -> list[Seen]:
    """`hls -laR` output as entries; a resource fork that holds bytes as PATH/..namedfork/rsrc, as
    the analysis lists it."""
    out: list[Seen] = []
    folder = "/"
    for line in text.splitlines():
        if line.startswith(":") and line.endswith(":"):
            folder = "/" + line.strip(":").replace(":", "/") + "/"
        elif m := _HLS_DIR.match(line):
            out.append(Seen(folder + m[1].replace("/", ":"), True))
        elif m := _HLS_FILE.match(line):
            path = folder + m[3].replace("/", ":")
            out.append(Seen(path, False, int(m[2])))
            if int(m[1]):
                out.append(Seen(path + RESOURCE_FORK, False, int(m[1])))
    return out

