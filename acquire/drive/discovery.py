"""Which optical drives this machine has: udev (pyudev) first, sysfs when udev cannot tell.

udev knows vendor, model, serial and the medium in the drive, but only where udevd has run and
filled its database (/run/udev/data). In containers and initramfs shells there is no udevd: pyudev
still enumerates devices, yet none has an ID_* property, so none looks like a CD drive. sysfs
always knows the SCSI peripheral type (5 = CD/DVD), vendor, model and revision. No drives is a
normal answer: an empty list.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SCSI_TYPE_ROM = 5    # SPC peripheral device type 05h: CD/DVD/BD device
SCSI_TYPE_WORM = 4   # 04h: write-once optical; sr binds to it as well
_OPTICAL_TYPES = {SCSI_TYPE_ROM, SCSI_TYPE_WORM}
VPD_UNIT_SERIAL_NUMBER = 0x80

# ID_CDROM_MEDIA_<KIND>... = "1" (udev's cdrom_id); first prefix that matches names the family.
# ID_CDROM_<KIND> without MEDIA_ says what the drive can read, not what is in it.
_MEDIA_FAMILIES = (("BD", "bd"), ("HDDVD", "hddvd"), ("DVD", "dvd"), ("CD", "cd"), ("MO", "mo"))


@dataclass(frozen=True, slots=True)
class DriveInfo:
    block: str | None        # "/dev/sr0"; None for a drive only the sg driver has bound
    sg: str | None           # "/dev/sg0"; None when the sg module is not loaded
    vendor: str
    model: str
    revision: str
    serial: str | None       # None when unknown
    media: str | None        # "cd" | "dvd" | "bd" | ...; None for no disc or unknown
    source: str              # "udev" | "sysfs": who found it


def find_drives(sysfs_root: str = "/sys", dev_root: str = "/dev", use_udev: bool = True) -> list[DriveInfo]:
    """Every optical drive: udev's view, plus any drive only sysfs shows (source says which)."""
    found: list[DriveInfo] = []
    # udev only knows the real /sys: a test's fake tree is read by the sysfs path alone
    if use_udev and _is_real_sysfs(sysfs_root):
        found = _from_udev(dev_root)
    seen = {d.block for d in found if d.block} | {d.sg for d in found if d.sg}
    for drive in _from_sysfs(Path(sysfs_root), dev_root):
        if drive.block not in seen and drive.sg not in seen:
            found.append(drive)
    return sorted(found, key=lambda d: _natural(d.block or d.sg or ""))


def _is_real_sysfs(sysfs_root: str) -> bool:
    return os.path.normpath(sysfs_root) == "/sys"


# -- udev ------------------------------------------------------------------------------------------

def _from_udev(dev_root: str) -> list[DriveInfo]:
    try:
        import pyudev

        context = pyudev.Context()
        # one property filter only, and ID_CDROM checked below in Python: libudev ORs several
        # match_property filters together, so (ID_CDROM=1, ID_TYPE=cd) would match either
        devices = list(context.list_devices(subsystem="block"))
    except Exception:  # no pyudev, no libudev (ImportError/OSError), or no /sys: sysfs decides
        return []
    drives = []
    for device in devices:
        try:
            props = dict(device.properties)
            if props.get("ID_CDROM") != "1":
                continue
            drives.append(_udev_drive(device, props, dev_root))
        except Exception:  # a device that vanished mid-enumeration
            continue
    return drives


def _udev_drive(device, props: dict[str, str], dev_root: str) -> DriveInfo:
    scsi_path = None
    try:
        parent = device.find_parent("scsi", "scsi_device")
        scsi_path = Path(parent.sys_path) if parent is not None else None
    except Exception:
        scsi_path = None
    attrs = scsi_path if scsi_path is not None else Path(device.sys_path) / "device"
    node = device.device_node or f"{dev_root}/{device.sys_name}"
    sg = _sg_node(attrs, dev_root)
    vendor = _udev_text(props, "ID_VENDOR") or _read_attr(attrs / "vendor") or ""
    model = _udev_text(props, "ID_MODEL") or _read_attr(attrs / "model") or ""
    revision = props.get("ID_REVISION") or _read_attr(attrs / "rev") or ""
    serial = props.get("ID_SERIAL_SHORT") or _vpd_serial(attrs / "vpd_pg80")
    return DriveInfo(node, sg, vendor, model, revision, serial, _udev_media(props), "udev")


def _udev_text(props: dict[str, str], key: str) -> str | None:
    """ID_VENDOR/ID_MODEL: the _ENC form keeps the drive's spaces (as \\x20); the plain one has '_'."""
    enc = props.get(f"{key}_ENC")
    if enc:
        text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), enc).strip()
        if text:
            return text
    return props.get(key) or None


def _udev_media(props: dict[str, str]) -> str | None:
    if props.get("ID_CDROM_MEDIA") != "1":
        return None
    kinds = [key[len("ID_CDROM_MEDIA_"):] for key, value in props.items()
             if key.startswith("ID_CDROM_MEDIA_") and value == "1"]
    for prefix, family in _MEDIA_FAMILIES:
        if any(kind == prefix or kind.startswith(prefix + "_") for kind in kinds):
            return family
    return None


# -- sysfs -----------------------------------------------------------------------------------------

def _from_sysfs(sys: Path, dev_root: str) -> list[DriveInfo]:
    drives = []
    claimed_sg: set[str] = set()
    for block in _listdir(sys / "class" / "block"):
        if not re.fullmatch(r"sr\d+", block):
            continue
        dev = sys / "class" / "block" / block / "device"
        if not _is_optical(dev):
            continue
        sg = _sg_node(dev, dev_root)
        if sg:
            claimed_sg.add(sg)
        drives.append(_sysfs_drive(dev, f"{dev_root}/{block}", sg))
    # a drive the sr driver has not bound (sr_mod not loaded) shows only as a generic node
    for name in _listdir(sys / "class" / "scsi_generic"):
        sg = f"{dev_root}/{name}"
        dev = sys / "class" / "scsi_generic" / name / "device"
        if sg in claimed_sg or not _is_optical(dev):
            continue
        blocks = [b for b in _listdir(dev / "block") if re.fullmatch(r"sr\d+", b)]
        drives.append(_sysfs_drive(dev, f"{dev_root}/{blocks[0]}" if blocks else None, sg))
    return drives


def _sysfs_drive(dev: Path, block: str | None, sg: str | None) -> DriveInfo:
    return DriveInfo(block, sg, _read_attr(dev / "vendor") or "", _read_attr(dev / "model") or "",
                     _read_attr(dev / "rev") or "", _vpd_serial(dev / "vpd_pg80"), None, "sysfs")


def _is_optical(dev: Path) -> bool:
    kind = _read_attr(dev / "type")
    try:
        return kind is not None and int(kind) in _OPTICAL_TYPES
    except ValueError:
        return False


def _sg_node(scsi_device: Path, dev_root: str) -> str | None:
    """The generic node of a SCSI device: <device>/scsi_generic/sgN (present when sg is loaded)."""
    names = sorted((n for n in _listdir(scsi_device / "scsi_generic") if re.fullmatch(r"sg\d+", n)), key=_natural)
    return f"{dev_root}/{names[0]}" if names else None


def _vpd_serial(path: Path) -> str | None:
    """VPD page 80h (SPC-4 7.8.16): byte 1 page code, bytes 2-3 page length, then ASCII serial."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if len(raw) < 4 or raw[1] != VPD_UNIT_SERIAL_NUMBER:
        return None
    length = int.from_bytes(raw[2:4], "big")
    text = raw[4:4 + length].decode("ascii", "replace").strip(" \x00")
    return text or None


def _read_attr(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip() or None
    except OSError:
        return None


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path), key=_natural)
    except OSError:
        return []


def _natural(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
