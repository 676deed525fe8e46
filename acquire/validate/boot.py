"""The boot checks: each way the image claims to boot, tried in QEMU, classified from what was printed.

Ways of booting, from the analysis: as a CD, the El Torito entries (x86 with SeaBIOS, EFI with
OVMF; a firmware boots the first entry of its platform, later ones are a boot manager's choice and
are named, not booted); as a USB stick, when the system area holds a partition table (BIOS from the
MBR; UEFI when an EFI system partition is there). An image that claims none is booted once as a
BIOS CD, to record the firmware's own words. A boot image in unreadable sectors is said without
booting: what the machine would load is not what was on the disc.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..record.fs_tables import Analysis
from . import qemu
from .result import Check

DEFAULT_TIME_LIMIT_S = 30.0
EFI_PARTITION_GUID = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
INSTALL = "apt-get install qemu-system-x86 ovmf"

# (name, pattern): a boot loader's own words; the first that matches names it
LOADERS = (
    ("GRUB", r"GNU GRUB|Welcome to GRUB|grub rescue>|^grub> ?$"),
    ("ISOLINUX", r"ISOLINUX \d"),
    ("SYSLINUX", r"SYSLINUX \d"),
    ("iPXE", r"iPXE \d|iPXE initialising|iPXE -- Open Source"),
    ("Windows Boot Manager", r"Windows Boot Manager"),
    ("memtest86+", r"Memtest86\+ v?\d|memtest86\+ \d"),
)
# the firmware's words when it found nothing to boot (SeaBIOS, OVMF's BdsDxe)
FIRMWARE_FAILURE = r"Boot failed: [^\n]*|No bootable device[^\n]*|BdsDxe: failed to load [^\n]*|" \
                   r"BdsDxe: No bootable option[^\n]*"
FIRMWARE_LINES = r"^(SeaBIOS|Booting from|Boot failed|No bootable device|Press ESC|BdsDxe|iPXE \(|Retrying)"
LOADER_SETTLE_S = 2.0          # after the loader's banner: let it draw its screen before the screenshot
FAILURE_SETTLE_S = 1.0


@dataclass(frozen=True)
class Way:
    """One way of booting: a check name, the medium, the firmware, what claims it."""

    name: str
    medium: str                 # 'cd' | 'disk'
    firmware: str               # 'bios' | 'uefi'
    claim: str                  # what in the image says it boots this way ('' : nothing does)
    damaged: str = ""           # the boot image's unreadable sectors, when known from the map


def ways(analysis: Analysis) -> tuple[list[Way], list[Check]]:
    """The ways to try, and checks already decided (entries a firmware never picks)."""
    out, decided = [], []
    seen_platform: set[str] = set()
    for b in analysis.boot_images:
        firmware = {"x86": "bios", "efi": "uefi"}.get(b.platform)
        name = f"boot cd {firmware or b.platform} entry {b.entry_no}"
        if firmware is None:
            decided.append(Check(name, "skipped", True, f"platform {b.platform}: QEMU's PC firmware boots x86 and EFI "
                                 "entries only", {"entry_no": b.entry_no, "platform": b.platform}))
            continue
        if firmware in seen_platform:
            decided.append(Check(name, "skipped", True, f"the firmware boots the first {b.platform} entry; entry "
                                 f"{b.entry_no} is a boot manager's choice", {"entry_no": b.entry_no}))
            continue
        seen_platform.add(firmware)
        damaged = (f"{b.unreadable_sectors} sector(s) of the boot image at LBA {b.lba} are unreadable"
                   if b.unreadable_sectors else "")
        out.append(Way(name, "cd", firmware, f"El Torito entry {b.entry_no} ({b.platform}, {b.emulation} "
                       f"emulation, LBA {b.lba})", damaged))
    mbr = next((fs for fs in analysis.filesystems if fs.kind == "mbr"), None)
    gpt = next((fs for fs in analysis.filesystems if fs.kind == "gpt"), None)
    if mbr is not None and not mbr.details.get("protective"):
        out.append(Way("boot disk bios", "disk", "bios", "a master boot record in the system area (hybrid image)"))
    if _efi_partition(mbr, gpt):
        out.append(Way("boot disk uefi", "disk", "uefi", "an EFI system partition in the system area"))
    elif mbr is not None or gpt is not None:
        decided.append(Check("boot disk uefi", "skipped", True, "the system area holds no EFI system partition "
                             "(MBR type EFh or GPT EFI type): nothing for UEFI to boot from a stick", {}))
    if not out:
        out.append(Way("boot cd bios", "cd", "bios", ""))
    return out, decided


def _efi_partition(mbr, gpt) -> bool:
    parts = [p.get("type", "") for p in (mbr.details.get("partitions", []) if mbr else [])]
    guids = [str(p.get("type_guid", p.get("type", ""))).lower() for p in (gpt.details.get("partitions", []) if gpt else [])]
    return "ef" in parts or EFI_PARTITION_GUID in guids


def settled(serial: str) -> float | None:
    """Seconds to wait before the screenshot once the outcome is clear from `serial`, else None."""
    if any(re.search(p, serial, re.M) for _, p in LOADERS):
        return LOADER_SETTLE_S
    if re.search(r"No bootable device|BdsDxe: No bootable option|UEFI Interactive Shell", serial):
        return FAILURE_SETTLE_S
    if _after_boot(serial):
        return LOADER_SETTLE_S
    return None


def _after_boot(serial: str) -> list[str]:
    """Lines printed after SeaBIOS's last 'Booting from ...' that are not the firmware's own: boot code ran."""
    at = serial.rfind("Booting from")
    if at < 0:
        return []
    lines = [ln.strip() for ln in serial[at:].splitlines()[1:]]
    return [ln for ln in lines if ln and not re.match(FIRMWARE_LINES, ln)]


def classify(run: qemu.Run, limit_s: float) -> tuple[str, str, dict]:
    """(outcome, summary, figures) from the serial output and the VGA text page."""
    text = run.serial + "\n" + run.screen_text
    found = sorted((m.start(), name, m[0].strip()) for name, pattern in LOADERS
                   if (m := re.search(pattern, run.serial, re.M) or re.search(pattern, run.screen_text, re.M)))
    if found:
        chain = [name for _, name, _ in found]        # in the order they printed: ISOLINUX, then iPXE
        then = "".join(f", then {name}" for name in chain[1:])
        return "booted", f"boot loader started: {chain[0]} (it printed {found[0][2]!r}){then}", \
            {"loader": chain[0], "loaders": chain}
    printed = _after_boot(run.serial)
    failures = [m.strip() for m in re.findall(FIRMWARE_FAILURE, text)]
    if printed and not failures:
        return "booted", f"boot code ran and printed {printed[0]!r}", {"loader": "unknown", "printed": printed[:10]}
    if failures:
        unique = list(dict.fromkeys(failures))
        shell = "; it fell back to its UEFI Interactive Shell" if "UEFI Interactive Shell" in text else ""
        return "not bootable", "the firmware found nothing to boot: " + " / ".join(unique[:4]) + shell, \
            {"firmware_said": unique}
    return "no result", f"nothing recognised within {limit_s:g} s (see the screenshot)", {}


def check_boot(image: Path, analysis: Analysis, shots: Path, *, time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> list[Check]:
    """One check per way of booting; screenshots go to `shots` (beside the record), hashed in the figures."""
    planned, decided = ways(analysis)
    if qemu.qemu_path() is None:
        return [Check("boot", "skipped", True, f"{qemu.QEMU} is not installed ({INSTALL}); the other checks ran",
                      {"install": INSTALL})] + decided
    checks = []
    for way in planned:
        checks.append(_one(image, way, shots, time_limit_s))
    return checks + decided


def _one(image: Path, way: Way, shots: Path, limit_s: float) -> Check:
    figures = {"medium": way.medium, "firmware": way.firmware, "claim": way.claim or "none", "time_limit_s": limit_s}
    if way.damaged:
        return Check(way.name, "damaged", False, f"not booted: {way.damaged}, so the machine would load zeros "
                     "where the disc's boot code was", figures)
    if way.firmware == "uefi" and qemu.ovmf_path() is None:
        return Check(way.name, "skipped", True, "no OVMF firmware for a UEFI boot (apt-get install ovmf)", figures)
    shot = shots / f"{image.name}.{way.name.replace(' ', '-')}.png"
    run = qemu.boot(image, medium=way.medium, firmware=way.firmware, screenshot=shot, time_limit_s=limit_s,
                    settled=settled)
    if run.error:
        return Check(way.name, "fail", False, f"QEMU could not boot the image: {run.error}", figures)
    outcome, summary, found = classify(run, limit_s)
    figures.update(found)
    figures.update({"seconds": run.seconds, "timed_out": run.timed_out,
                    "firmware_name": "SeaBIOS" if way.firmware == "bios" else "OVMF",
                    "serial_tail": _compact(run.serial)[-1500:], "screen_text": _compact(run.screen_text)[-2000:]})
    if run.screenshot is not None:
        figures["screenshot"] = {"file": run.screenshot.name, "sha256": _sha256(run.screenshot),
                                 "bytes": run.screenshot.stat().st_size}
    ok = outcome == "booted" or not way.claim
    if not way.claim:
        summary += " (the image claims no way of booting)"
    return Check(way.name, outcome, ok, summary, figures)


def _compact(text: str) -> str:
    """Without the blank lines cursor movements leave in the serial text."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
