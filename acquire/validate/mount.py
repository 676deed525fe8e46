"""The mount check: the image mounted read-only by the Linux kernel in a QEMU guest, its tree compared.

The kernel's iso9660, udf and hfsplus drivers are the reference reader. The guest is the e2e
suite's (acquire/validate/guest.py: a Debian kernel, a busybox initramfs); the image is a read-only
virtio disk. In the guest, busybox walks the mounted tree and prints one line per entry to the
guest's second serial port, which QEMU writes to a file (type, size, mtime, path; then the SHA-256 of
each regular file); here each is compared with the analysis, and each readable file's SHA-256 with the
bytes of its extents in the image. The kernel's console is the first port: its messages never land
inside the report, and the report's END line counts its lines, so that a report damaged on the way is
told from a tree that differs (and the guest is run once more). The host's own mount is not used: it
needs root and loop devices, and the guest gives the same answer anywhere.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..record.fs_tables import Analysis, FileEntry
from . import guest, qemu
from .result import Check
from .tree import (MAX_LISTED, Listing, Seen, compare, expected_reasons, norm, view_sessions, views,
                   volume_views)

MODULES = ("virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk "
           "cdrom isofs crc-itu-t udf nls_utf8 hfsplus loop").split()
TIMEOUT_S = 300
BEGIN, END, FAILED = "VALIDATE-MOUNT-BEGIN", "VALIDATE-MOUNT-END", "VALIDATE-MOUNT-FAILED"
# a marker wherever it stands in a line (a byte lost before it must not hide it); END's figures: the
# count and MD5 of the E| and H| lines the guest sent for that file system
_MARKER = re.compile(r"(VALIDATE-MOUNT-(?:BEGIN|END|FAILED)) (\S+)(?: (.*))?$")
SECTOR = 2048
HIDDEN_DIR = "/\0\0\0\0hfs+ private data"     # normal form of TN1150's file hard-link folder
# busybox `stat -c 'E|%F|%s|%Y|%n'`: type, size, mtime (epoch s), name; `sha256sum`: "HASH  NAME"
_STAT = re.compile(r"^E\|([a-z ]+)\|(\d+)\|(\d+)\|(\..*)$")
_HASH = re.compile(r"^H\|([0-9a-f]{64})  (\..*)$")

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod /modules/$m.ko 2>/dev/null || echo "validate-init: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done     # 60 s: a loaded host is slow
stty -F /dev/ttyS1 raw -echo || echo "validate-init: no raw /dev/ttyS1"      # the report's port: bytes as sent
for spec in $(tr ' ' '\n' < /proc/cmdline | sed -n 's/^vmount=//p' | tr ',' ' '); do
    fs=${spec%%:*}; off=${spec#*:}; dev=/dev/vda
    if [ "$off" != 0 ]; then losetup -r -o "$off" /dev/loop0 /dev/vda && dev=/dev/loop0; fi
    if ! mount -t "$fs" -o ro "$dev" /mnt 2>/tmp/err; then
        echo "VALIDATE-MOUNT-FAILED $fs $(head -c 300 /tmp/err | tr '\n' ' ')" >/dev/ttyS1; continue
    fi
    cd /mnt
    find . -exec stat -c 'E|%F|%s|%Y|%n' {} + >/tmp/report
    find . -type f -exec sha256sum {} + 2>/dev/null | sed 's/^/H|/' >>/tmp/report
    cd /
    umount /mnt
    [ "$dev" = /dev/loop0 ] && losetup -d /dev/loop0
    { echo "VALIDATE-MOUNT-BEGIN $fs"; cat /tmp/report; echo "VALIDATE-MOUNT-END $fs $(wc -l </tmp/report) $(md5sum </tmp/report | cut -d' ' -f1)"; } >/dev/ttyS1
done
sync
poweroff -f
"""


def _mounts(analysis: Analysis) -> list[tuple[str, int]]:
    """(kernel file system type, byte offset) for each file system the kernel should mount."""
    kinds = {fs.kind: fs for fs in analysis.filesystems}
    out = []
    if "iso9660" in kinds or "joliet" in kinds:
        out.append(("iso9660", 0))
    if "udf" in kinds:
        out.append(("udf", 0))
    if "hfsplus" in kinds:
        out.append(("hfsplus", _hfsplus_offset(kinds)))
    return out


def _hfsplus_offset(kinds: dict) -> int:
    """Where the guest's loop device starts for HFS+: at 0 inside an Apple partition map, whose
    Apple_HFS partition the kernel finds itself (fs/hfsplus/part_tbl.c hfs_part_find; a loop device at
    the volume's offset is refused with EINVAL, measured with xorriso -hfsplus images); else the offset."""
    if "apm" in kinds:
        return 0
    return int(kinds["hfsplus"].details.get("offset_bytes", 0) or 0)


@dataclass(frozen=True)
class GuestOutput:
    console: str          # ttyS0: the kernel's console and the init script's own complaints
    report: str           # ttyS1 (raw): the markers and listings as the guest sent them, bytes kept


def run_guest(image: Path, mounts: list[tuple[str, int]], cache: Path) -> GuestOutput:
    """The guest's console and report after mounting and walking each file system of `mounts`."""
    vmlinuz, initrd, _ = guest.initramfs(cache, INIT, MODULES, name="validate-initrd")
    specs = ",".join(f"{fs}:{off}" for fs, off in mounts)
    with tempfile.TemporaryDirectory(prefix="acquire-mount-") as tmp:
        report = Path(tmp) / "report.txt"
        cmd = ["timeout", "--kill-after=5", str(TIMEOUT_S), qemu.QEMU, "-accel", "tcg", "-m", "256", "-smp", "1",
               "-cpu", "max", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
               "-serial", f"file:{report}", "-kernel", str(vmlinuz), "-initrd", str(initrd),
               "-append", f"console=ttyS0 panic=-1 quiet loglevel=3 vmount={specs}",
               "-drive", f"if=none,id=img,file={qemu.drive_file(Path(image).resolve())},readonly=on,format=raw",
               "-device", "virtio-blk-pci,drive=img"]
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S + 30)
        text = report.read_bytes().decode(errors="surrogateescape") if report.exists() else ""
    return GuestOutput(done.stdout.decode(errors="replace").replace("\r", ""), text)


@dataclass(frozen=True)
class Report:
    listings: dict[str, Listing]      # per file system whose report came whole
    failures: dict[str, str]          # per file system the kernel refused: its words
    damaged: dict[str, str]           # per file system whose report came damaged: how


def parse(serial: str) -> Report:
    """The guest's report: a Listing per file system whose lines came whole (END's count and MD5
    agree with what came), why each other one failed to mount, and how any other report was damaged."""
    listings: dict[str, Listing] = {}
    failures: dict[str, str] = {}
    damaged: dict[str, str] = {}
    current, lines = None, []
    for line in serial.removesuffix("\n").split("\n"):
        marker = _MARKER.search(line)
        if marker is None:
            if current is not None:
                lines.append(line)
            continue
        kind, fs, rest = marker[1], marker[2], (marker[3] or "").split()
        if current is not None and (kind != END or fs != current):
            damaged[current] = f"its END line did not come ({len(lines)} lines did)"
            current = None
        if kind == BEGIN:
            current, lines = fs, []
        elif kind == FAILED:
            failures[fs] = " ".join(rest) or "mount failed"
        elif current is None:
            damaged[fs] = "its BEGIN line did not come"
        else:
            body = "".join(f"{x}\n" for x in lines).encode(errors="surrogateescape")
            if rest[:2] == [str(len(lines)), hashlib.md5(body).hexdigest()]:
                # checked as sent; kept as text (a name that is no UTF-8 gets U+FFFD, as a reader's would)
                listings[fs] = _listing(fs, [x.encode(errors="surrogateescape").decode(errors="replace")
                                             for x in lines])
                damaged.pop(fs, None)
            else:
                damaged[fs] = (f"{len(lines)} lines came where the guest sent {rest[0] if rest else '?'}"
                               if rest[:1] != [str(len(lines))] else "a line came changed (its MD5 differs)")
            current = None
    if current is not None:
        damaged[current] = f"its END line did not come ({len(lines)} lines did)"
    return Report(listings, failures, damaged)


def _listing(fs: str, lines: list[str]) -> Listing:
    """The kernel's tree from the guest's E| (stat) and H| (sha256sum) lines of one file system."""
    listing = Listing(f"Linux {fs}", "linux-image-amd64", f"mount -t {fs} -o ro (QEMU guest)", prefer=fs)
    for line in lines:
        if m := _STAT.match(line):
            kind = "d" if m[1].startswith("directory") else "l" if m[1].startswith("symbolic") else \
                "f" if "regular" in m[1] else "o"
            if m[4] not in (".", "./"):
                seen = Seen("/" + m[4].removeprefix("./"), kind == "d", None if kind == "d" else int(m[2]),
                            None, int(m[3]))
                listing.entries[norm(seen.path)] = seen
        elif m := _HASH.match(line):
            key = norm(m[2].removeprefix("./"))
            if key in listing.entries:
                old = listing.entries[key]
                listing.entries[key] = Seen(old.path, old.is_dir, old.size, old.lba, old.mtime, m[1])
    return listing


def content_hashes(image: Path, analysis: Analysis) -> dict[int, dict[str, str]]:
    """filesystem id -> normal path -> SHA-256 of the file's extents, for every fully read file."""
    out: dict[int, dict[str, str]] = {}
    with open(image, "rb") as f:
        for entry in analysis.files:
            if entry.is_dir or entry.unreadable_sectors or entry.embedded or (entry.size and not entry.extents):
                continue
            out.setdefault(entry.filesystem_id, {})[norm(entry.path)] = _hash_extents(f, entry)
    return out


def _hash_extents(f, entry: FileEntry) -> str:
    runs = (entry.metadata or {}).get("byte_runs")
    if runs:                            # HFS+ blocks not aligned to sectors: the fork's own bytes
        return _hash_runs(f, [(int(a), int(n)) for a, n in runs])
    byte_runs, left = [], entry.size
    for lba, sectors in entry.extents:            # the extents' sectors, up to the file's size
        take = min(left, sectors * SECTOR)
        byte_runs.append((lba * SECTOR, take))
        left -= take
    return _hash_runs(f, byte_runs)


def _hash_runs(f, runs: list[tuple[int, int]]) -> str:
    h = hashlib.sha256()
    for at, length in runs:
        f.seek(at)
        while length > 0:
            chunk = f.read(min(length, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            length -= len(chunk)
    return h.hexdigest()


def hfsplus_key(path: str) -> str:
    """A normal path as the kernel's hfsplus and the analysis both name it: NFC. HFS+ stores names
    decomposed (TN1150 "Unicode Subtleties"); the kernel returns the stored form from readdir
    (fs/hfsplus/unicode.c hfsplus_uni2asc), the analysis may compose it: the same name either way."""
    return unicodedata.normalize("NFC", path)


def hfsplus_views(analysis: Analysis, hashes: dict[int, dict[str, str]]) -> tuple[str, dict[str, dict[str, Seen]]]:
    """(the HFS+ volume's view name, that view as the kernel's hfsplus shows it, and the hybrid's
    ISO 9660 tree, each field checked with every tree that holds the path). Data forks only:
    the kernel's st_size is the data fork's (fs/hfsplus/inode.c hfsplus_cat_read_inode), the
    resource fork is a separate "<name>/rsrc". The file hard-link folder is left out: the kernel
    hides it from readdir (fs/hfsplus/super.c sets sbi->hidden_dir, dir.c hfsplus_readdir skips it),
    and a hard link is listed with its iNode's size and data (the analysis resolves it likewise).
    Times: HFS+ dates are UTC (TN1150 "HFS Plus Dates"); the kernel converts them with no zone
    (fs/hfsplus/hfsplus_fs.h __hfsp_mt2ut), so mtimes compare as they are."""
    volume = next(f for f in analysis.filesystems if f.kind == "hfsplus")
    name, by_view = volume_views(analysis, volume, resource_forks=False)
    own = hashes.get(volume.id, {})
    view = {hfsplus_key(p): Seen(s.path, s.is_dir, s.size, s.lba, s.mtime, own.get(p))
            for p, s in by_view[name].items() if p != HIDDEN_DIR and not p.startswith(HIDDEN_DIR + "/")}
    hybrid = {n: {hfsplus_key(p): s for p, s in v.items()} for n, v in by_view.items() if n != name}
    return name, {name: view, **hybrid}


def _hfsplus_listing(listing: Listing) -> Listing:
    return Listing(listing.reader, listing.package, listing.command,
                   {hfsplus_key(p): s for p, s in listing.entries.items()}, listing.prefer)


def check_mount(image: Path, analysis: Analysis, *, cache: Path = guest.DEFAULT_CACHE) -> Check:
    mounts = _mounts(analysis)
    if not mounts:
        return Check("mount", "skipped", True, "no file system the kernel mounts (ISO 9660, UDF, HFS+) was found", {})
    if qemu.qemu_path() is None:
        return Check("mount", "skipped", True, f"{qemu.QEMU} is not installed (apt-get install qemu-system-x86)", {})
    for runs in (1, 2):       # a report damaged on its way is the transport's fault: the guest runs once more
        try:
            out = run_guest(image, mounts, cache)
        except guest.GuestUnavailable as exc:
            return Check("mount", "skipped", True, f"no guest kernel: {exc}", {})
        except subprocess.TimeoutExpired:
            return Check("mount", "fail", False, f"the guest did not finish within {TIMEOUT_S} s", {})
        report = parse(out.report)
        if all(fs in report.listings or fs in report.failures for fs, _ in mounts):
            break
    listings, failures = report.listings, report.failures
    all_views = views(analysis)
    hashes = content_hashes(image, analysis)
    ours = _with_hashes(all_views, analysis, hashes)
    reasons = expected_reasons(analysis)
    figures, details, failed = {}, [], []
    for fs, why in failures.items():
        failed.append(fs)
        figures[fs] = {"outcome": "fail", "why": why}
        details.append(f"{fs}: the kernel refused to mount it: {why}")
    for fs, listing in listings.items():
        if fs == "hfsplus":          # the volume's own tree, at its offset in a hybrid image
            name, hfs = hfsplus_views(analysis, hashes)
            listing = _hfsplus_listing(listing)
            view, differences = compare(listing, hfs, reasons, fields=("size", "mtime", "sha256"), view=name)
        else:
            view, differences = compare(listing, ours, reasons, fields=("size", "mtime", "sha256"),
                                        sessions=view_sessions(analysis))
        real = [d for d in differences if d.expected is None]
        expected = [d for d in differences if d.expected is not None]
        hashed = sum(1 for s in listing.entries.values() if s.sha256)
        if real:
            failed.append(fs)
        figures[fs] = {"outcome": "fail" if real else "pass", "compared_with": view, "entries": len(listing.entries),
                       "files_hashed": hashed, "disagreements": [d.line() for d in real[:MAX_LISTED]],
                       "disagreement_count": len(real), "expected_to_differ": [d.line() for d in expected[:MAX_LISTED]],
                       "expected_count": len(expected)}
        details.append(f"{fs}: {len(listing.entries)} entries, {hashed} files hashed in the guest, against {view}: "
                       + (f"{len(real)} difference(s)" if real else "the same names, sizes, mtimes and contents"))
        details += [f"  {d.line()}" for d in (real + expected)[:MAX_LISTED]]
    for fs, how in report.damaged.items():
        failed.append(fs)
        figures[fs] = {"outcome": "fail", "why": f"the guest's report came damaged in {runs} runs: {how}"}
        details.append(f"{fs}: the guest's report came damaged in {runs} runs: {how}")
    missing = [fs for fs, _ in mounts if fs not in listings and fs not in failures and fs not in report.damaged]
    if missing:
        failed += missing
        details.append(f"the guest said nothing about {', '.join(missing)} in {runs} runs; its console ended: "
                       f"{out.console.strip()[-300:]!r}")
    if failed:
        return Check("mount", "fail", False, f"the mounted {', '.join(failed)} tree differs from the analysis "
                     "(or did not mount)", figures, details)
    return Check("mount", "pass", True, f"the kernel's {', '.join(listings)} mount (read-only, QEMU guest) lists the "
                 "same names, sizes, mtimes and file contents as the analysis", figures, details)


def _with_hashes(all_views: dict[str, dict[str, Seen]], analysis: Analysis,
                 hashes: dict[int, dict[str, str]]) -> dict[str, dict[str, Seen]]:
    by_name = {}
    names = iter(all_views)
    for fs in analysis.filesystems:
        if fs.kind not in ("iso9660", "joliet", "udf"):
            continue
        name = next(names)
        own = hashes.get(fs.id, {})
        by_name[name] = {p: Seen(s.path, s.is_dir, s.size, s.lba, s.mtime, own.get(p)) for p, s in all_views[name].items()}
    return by_name
