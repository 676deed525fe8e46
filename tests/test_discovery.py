"""find_drives: udev when it knows, sysfs when it does not; no drives is an empty list."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from acquire.drive import discovery
from acquire.drive.discovery import DriveInfo, find_drives

# VPD page 80h as QEMU's scsi-cd answers with serial=SN1: header 00 80 00 03, then "SN1"
VPD_80_SN1 = bytes.fromhex("05 80 00 03 53 4e 31")


def _scsi_device(root: Path, *, vendor: str, model: str, rev: str, kind: int, vpd80: bytes | None = None) -> Path:
    root.mkdir(parents=True)
    # sysfs pads INQUIRY strings with spaces and ends each attribute with a newline
    (root / "vendor").write_text(f"{vendor:8}\n")
    (root / "model").write_text(f"{model:16}\n")
    (root / "rev").write_text(f"{rev:4}\n")
    (root / "type").write_text(f"{kind}\n")
    if vpd80 is not None:
        (root / "vpd_pg80").write_bytes(vpd80)
    return root


@pytest.fixture
def fake_sys(tmp_path) -> Path:
    sys_root = tmp_path / "sys"
    # sr0: a CD drive whose generic node is sg1 (sg0 is a disk)
    dev = _scsi_device(sys_root / "class" / "block" / "sr0" / "device",
                       vendor="QEMU", model="QEMU CD-ROM", rev="2.5+", kind=5, vpd80=VPD_80_SN1)
    (dev / "scsi_generic" / "sg1").mkdir(parents=True)
    (sys_root / "class" / "block" / "vda").mkdir(parents=True)
    _scsi_device(sys_root / "class" / "scsi_generic" / "sg0" / "device", vendor="ATA", model="DISK", rev="1", kind=0)
    sg1 = _scsi_device(sys_root / "class" / "scsi_generic" / "sg1" / "device",
                       vendor="QEMU", model="QEMU CD-ROM", rev="2.5+", kind=5, vpd80=VPD_80_SN1)
    (sg1 / "block" / "sr0").mkdir(parents=True)
    return sys_root


def test_a_cd_drive_in_sysfs_gives_its_nodes_inquiry_strings_and_vpd_serial(fake_sys):
    assert find_drives(sysfs_root=str(fake_sys), dev_root="/dev", use_udev=False) == [
        DriveInfo(block="/dev/sr0", sg="/dev/sg1", vendor="QEMU", model="QEMU CD-ROM", revision="2.5+",
                  serial="SN1", media=None, source="sysfs"),
    ]


def test_without_vpd_page_80_the_serial_is_unknown(fake_sys):
    (fake_sys / "class" / "block" / "sr0" / "device" / "vpd_pg80").unlink()
    [drive] = find_drives(sysfs_root=str(fake_sys), use_udev=False)
    assert drive.serial is None


def test_a_drive_only_the_sg_driver_bound_is_found_with_no_block_node(tmp_path):
    sys_root = tmp_path / "sys"
    _scsi_device(sys_root / "class" / "scsi_generic" / "sg3" / "device",
                 vendor="HL-DT-ST", model="BD-RE BH16NS40", rev="1.02", kind=5)
    assert find_drives(sysfs_root=str(sys_root), dev_root="/devx", use_udev=False) == [
        DriveInfo(None, "/devx/sg3", "HL-DT-ST", "BD-RE BH16NS40", "1.02", None, None, "sysfs"),
    ]


def test_a_fake_sysfs_root_is_never_mixed_with_the_real_udev(fake_sys):
    assert [d.source for d in find_drives(sysfs_root=str(fake_sys))] == ["sysfs"]


def test_no_drives_is_an_empty_list(tmp_path):
    assert find_drives(sysfs_root=str(tmp_path / "nothing"), use_udev=False) == []


def test_vpd_serial_needs_page_code_80h_and_stops_at_the_page_length(tmp_path):
    page = tmp_path / "vpd_pg80"
    page.write_bytes(bytes.fromhex("05 80 00 04") + b" AB1  trailing")
    assert discovery._vpd_serial(page) == "AB1"
    page.write_bytes(bytes.fromhex("05 83 00 03") + b"SN1")
    assert discovery._vpd_serial(page) is None
    page.write_bytes(b"\x05\x80")
    assert discovery._vpd_serial(page) is None


def test_find_drives_on_this_machine_returns_a_list_without_raising():
    drives = find_drives()
    assert isinstance(drives, list) and all(isinstance(d, DriveInfo) for d in drives)


# -- udev, with pyudev played by a fake ------------------------------------------------------------

class FakeDevice:
    def __init__(self, sys_path: Path, node: str, props: dict[str, str], parent=None) -> None:
        self.sys_path, self.sys_name, self.device_node = str(sys_path), sys_path.name, node
        self.properties, self._parent = props, parent

    def find_parent(self, subsystem, device_type=None):
        return self._parent


def _fake_pyudev(monkeypatch, devices: list[FakeDevice]) -> list[dict]:
    calls: list[dict] = []

    class Context:
        def list_devices(self, **filters):
            calls.append(filters)
            return iter(devices)

    monkeypatch.setitem(sys.modules, "pyudev", types.SimpleNamespace(Context=Context))
    return calls


def test_udev_drives_come_from_id_cdrom_with_media_serial_and_the_sg_of_the_scsi_parent(monkeypatch, tmp_path):
    scsi = tmp_path / "devices" / "0:0:0:0"
    (scsi / "scsi_generic" / "sg2").mkdir(parents=True)
    parent = FakeDevice(scsi, None, {})
    cd = FakeDevice(scsi / "block" / "sr0", "/dev/sr0", {
        "ID_CDROM": "1", "ID_CDROM_DVD": "1", "ID_CDROM_BD": "1",        # what the drive can read
        "ID_VENDOR": "HL-DT-ST", "ID_MODEL": "BD-RE_BH16NS40", "ID_MODEL_ENC": "BD-RE\\x20BH16NS40\\x20",
        "ID_REVISION": "1.02", "ID_SERIAL_SHORT": "K9OF4HG0155",
        "ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_DVD": "1", "ID_CDROM_MEDIA_TRACK_COUNT": "1",
    }, parent)
    disk = FakeDevice(tmp_path / "devices" / "vda", "/dev/vda", {"ID_TYPE": "disk"})
    calls = _fake_pyudev(monkeypatch, [disk, cd])
    assert discovery._from_udev("/dev") == [
        DriveInfo("/dev/sr0", "/dev/sg2", "HL-DT-ST", "BD-RE BH16NS40", "1.02", "K9OF4HG0155", "dvd", "udev"),
    ]
    assert calls == [{"subsystem": "block"}]  # one filter: ID_CDROM is checked in Python


@pytest.mark.parametrize("props,media", [
    ({"ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_CD": "1"}, "cd"),
    ({"ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_CD_R": "1"}, "cd"),
    ({"ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_DVD_PLUS_R_DL": "1"}, "dvd"),
    ({"ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_BD": "1"}, "bd"),
    ({"ID_CDROM_MEDIA": "1", "ID_CDROM_MEDIA_STATE": "complete"}, None),
    ({"ID_CDROM_CD": "1", "ID_CDROM_DVD": "1"}, None),                   # empty drive
])
def test_media_family_comes_from_id_cdrom_media_keys_only(props, media):
    assert discovery._udev_media(props) == media


def test_udev_without_a_database_falls_back_to_sysfs(monkeypatch, fake_sys):
    # in a container pyudev lists the devices, but none carries ID_* properties
    _fake_pyudev(monkeypatch, [FakeDevice(fake_sys / "class" / "block" / "sr0", "/dev/sr0", {})])
    monkeypatch.setattr(discovery, "_is_real_sysfs", lambda root: True)  # let udev be asked
    [drive] = find_drives(sysfs_root=str(fake_sys))
    assert (drive.block, drive.source) == ("/dev/sr0", "sysfs")


def test_without_pyudev_sysfs_decides(monkeypatch, fake_sys):
    monkeypatch.setitem(sys.modules, "pyudev", None)  # import pyudev raises ImportError
    assert discovery._from_udev("/dev") == []


def test_a_drive_udev_found_is_not_listed_again_from_sysfs(monkeypatch, fake_sys):
    parent = FakeDevice(fake_sys / "class" / "block" / "sr0" / "device", None, {})
    cd = FakeDevice(fake_sys / "class" / "block" / "sr0", "/dev/sr0", {"ID_CDROM": "1", "ID_VENDOR": "QEMU"}, parent)
    _fake_pyudev(monkeypatch, [cd])
    monkeypatch.setattr(discovery, "_is_real_sysfs", lambda root: True)
    assert find_drives(sysfs_root=str(fake_sys)) == [
        DriveInfo("/dev/sr0", "/dev/sg1", "QEMU", "QEMU CD-ROM", "2.5+", "SN1", None, "udev"),
    ]
