"""SgTransport: the sg_io_hdr layout, the header we build, and every error path this machine can show."""
from __future__ import annotations

import ctypes
import errno
import grp
import os
import re
import struct
import tempfile
from pathlib import Path

import pytest

from acquire.drive import sg as t
from acquire.drive.sg import SG_GET_VERSION_NUM, SG_IO, SgIoHdr, SgTransport, _build_header, max_transfer_bytes
from acquire.drive.transport import CHECK_CONDITION, DID_NO_CONNECT, GOOD, Completion, Transport
from acquire.errors import DriveError, DriveGone, NoDrive

# docs/reference/mmc.md "Linux SG_IO", x86-64 (the kernel's <scsi/sg.h> struct sg_io_hdr)
SG_IO_HDR_OFFSETS = {
    "interface_id": 0, "dxfer_direction": 4, "cmd_len": 8, "mx_sb_len": 9, "iovec_count": 10,
    "dxfer_len": 12, "dxferp": 16, "cmdp": 24, "sbp": 32, "timeout": 40, "flags": 44, "pack_id": 48,
    "usr_ptr": 56, "status": 64, "masked_status": 65, "msg_status": 66, "sb_len_wr": 67,
    "host_status": 68, "driver_status": 70, "resid": 72, "duration": 76, "info": 80,
}
SG_H = Path("/usr/include/scsi/sg.h")

READ_10_LBA_16_COUNT_2 = bytes.fromhex("28 00 00 00 00 10 00 00 02 00")
TEST_UNIT_READY = bytes.fromhex("00 00 00 00 00 00")
MODE_SELECT_10_PAGE_01 = bytes.fromhex("55 10 00 00 00 00 00 00 14 00")
MODE_PARAMETERS = bytes.fromhex("00 00 00 00 00 00 00 00 01 0a 00 05 00 00 00 00 00 00 00 00")
MEDIUM_ERROR_03_11_00 = bytes.fromhex("70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00")
RECOVERED_01_17_01 = bytes.fromhex("70 00 01 00 00 00 00 0a 00 00 00 00 17 01 00 00 00 00")


# -- the structure ----------------------------------------------------------------------------------

def test_sg_io_hdr_is_88_bytes_as_on_x86_64():
    assert ctypes.sizeof(SgIoHdr) == 88


@pytest.mark.parametrize("field,offset", SG_IO_HDR_OFFSETS.items())
def test_each_sg_io_hdr_field_sits_at_the_kernel_offset(field, offset):
    assert getattr(SgIoHdr, field).offset == offset


@pytest.mark.skipif(not SG_H.exists(), reason="/usr/include/scsi/sg.h not installed")
def test_fields_are_declared_in_the_order_of_the_system_header():
    body = re.search(r"typedef struct sg_io_hdr\s*\{(.*?)\}", SG_H.read_text(), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"(\w+)\s*;", body)
    assert names == [name for name, _ in SgIoHdr._fields_]


# -- the header we build (no ioctl) -------------------------------------------------------------------

def _unpack(req) -> dict:
    raw = bytes(req.hdr)
    assert len(raw) == 88
    keys = ("interface_id", "dxfer_direction", "cmd_len", "mx_sb_len", "iovec_count", "dxfer_len",
            "dxferp", "cmdp", "sbp", "timeout", "flags")
    return dict(zip(keys, struct.unpack_from("<iiBBHIQQQII", raw, 0)))


def test_a_data_in_command_is_from_device_with_its_length_sense_size_and_timeout_in_ms():
    req = _build_header(READ_10_LBA_16_COUNT_2, data_in_length=4096, timeout_s=7.5)
    raw = bytes(req.hdr)
    assert raw[0:4] == b"S\x00\x00\x00"
    assert raw[4:8] == bytes.fromhex("fd ff ff ff")  # -3 SG_DXFER_FROM_DEV
    h = _unpack(req)
    assert (h["cmd_len"], h["mx_sb_len"], h["iovec_count"], h["dxfer_len"]) == (10, 252, 0, 4096)
    assert (h["timeout"], h["flags"]) == (7500, 0)
    assert h["dxferp"] == ctypes.addressof(req.data) and len(req.data) == 4096
    assert ctypes.string_at(h["cmdp"], h["cmd_len"]) == READ_10_LBA_16_COUNT_2
    assert h["sbp"] == ctypes.addressof(req.sense) and len(req.sense) == 252


def test_a_command_without_data_is_dxfer_none_with_no_buffer():
    req = _build_header(TEST_UNIT_READY)
    raw = bytes(req.hdr)
    assert raw[4:8] == bytes.fromhex("ff ff ff ff")  # -1 SG_DXFER_NONE
    h = _unpack(req)
    assert (h["cmd_len"], h["dxfer_len"], h["dxferp"], h["timeout"]) == (6, 0, 0, 30000)
    assert ctypes.string_at(h["cmdp"], 6) == TEST_UNIT_READY


def test_a_data_out_command_is_to_device_and_points_at_a_copy_of_the_parameters():
    req = _build_header(MODE_SELECT_10_PAGE_01, data_out=MODE_PARAMETERS)
    raw = bytes(req.hdr)
    assert raw[4:8] == bytes.fromhex("fe ff ff ff")  # -2 SG_DXFER_TO_DEV
    h = _unpack(req)
    assert h["dxfer_len"] == len(MODE_PARAMETERS)
    assert ctypes.string_at(h["dxferp"], h["dxfer_len"]) == MODE_PARAMETERS


def test_a_command_cannot_move_data_both_ways_or_carry_an_oversized_cdb():
    with pytest.raises(ValueError):
        _build_header(MODE_SELECT_10_PAGE_01, data_in_length=8, data_out=MODE_PARAMETERS)
    with pytest.raises(ValueError):
        _build_header(bytes(17))
    with pytest.raises(ValueError):
        _build_header(b"")


# -- opening: error paths for real on this machine ---------------------------------------------------

def test_a_missing_node_is_no_drive_with_one_clear_line():
    with pytest.raises(NoDrive) as info:
        SgTransport("/dev/sr9")
    assert str(info.value) == "no such device /dev/sr9; list drives with `acquire drives`"
    assert info.value.message == "no such device /dev/sr9"


def test_a_regular_file_is_not_a_scsi_device(tmp_path):
    path = tmp_path / "disc.iso"
    path.write_bytes(bytes(2048))
    with pytest.raises(NoDrive, match=r"is not a SCSI device \(ENOTTY\)") as info:
        SgTransport(str(path))
    assert info.value.message == f"{path} is not a SCSI device (ENOTTY)"


def test_dev_null_is_a_character_device_but_not_a_scsi_device():
    with pytest.raises(NoDrive) as info:
        SgTransport("/dev/null")
    assert info.value.message == "/dev/null is not a SCSI device (ENOTTY)"


def _group_for_test() -> grp.struct_group:
    for name in ("cdrom", "disk", "nogroup"):
        try:
            return grp.getgrnam(name)
        except KeyError:
            continue
    return grp.getgrgid(os.getgid())


def _open_as_nobody(path: str) -> str:
    """Open `path` in a forked child running as uid/gid 65534; returns the child's error line."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                SgTransport(path).close()
                line = "opened"
            except NoDrive as exc:
                line = f"NoDrive|{exc.message}|{exc.hint}"
            except Exception as exc:  # noqa: BLE001  (reported to the parent)
                line = f"{type(exc).__name__}|{exc}"
            os.write(write_end, line.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode()


def test_permission_denied_names_the_node_and_its_group():
    group = _group_for_test()
    # a directory anyone may enter (pytest's tmp_path is 0700), holding a node nobody may open
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        node = os.path.join(tmp, "sr0")
        Path(node).touch()
        os.chmod(node, 0o000)
        if os.geteuid() == 0:
            os.chown(node, 0, group.gr_gid)
            line = _open_as_nobody(node)
        else:
            try:
                os.chown(node, os.getuid(), group.gr_gid)
            except PermissionError:
                group = grp.getgrgid(os.stat(node).st_gid)
            try:
                SgTransport(node)
                line = "opened"
            except NoDrive as exc:
                line = f"NoDrive|{exc.message}|{exc.hint}"
    assert line == (f"NoDrive|permission denied on {node} (group {group.gr_name})"
                    f"|add yourself to the {group.gr_name} group or run as root")


# -- execute, with the kernel's answers played by a fake ioctl ----------------------------------------

class FakeKernel:
    """Stands in for ioctl: answers SG_GET_VERSION_NUM, and SG_IO as `answer` says."""

    def __init__(self) -> None:
        self.answer = dict(status=GOOD, data=b"", resid=0, sense=b"", host_status=0, driver_status=0,
                           duration=0, errno=0)
        self.headers: list[bytes] = []

    def __call__(self, fd: int, request: int, arg) -> int:
        if request == SG_GET_VERSION_NUM:
            arg.value = 30536
            return 0
        assert request == SG_IO
        self.headers.append(bytes(arg))
        a = self.answer
        if a["errno"]:
            raise OSError(a["errno"], os.strerror(a["errno"]))
        if a["data"]:
            ctypes.memmove(arg.dxferp, a["data"], min(len(a["data"]), arg.dxfer_len))
        if a["sense"]:
            ctypes.memmove(arg.sbp, a["sense"], len(a["sense"]))
        arg.status, arg.sb_len_wr, arg.resid = a["status"], len(a["sense"]), a["resid"]
        arg.host_status, arg.driver_status, arg.duration = a["host_status"], a["driver_status"], a["duration"]
        arg.info = 1 if (a["status"] or a["host_status"] or a["driver_status"]) else 0
        return 0


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    monkeypatch.setattr(t, "_ioctl", fake)
    return fake


@pytest.fixture
def drive(kernel, tmp_path):
    node = tmp_path / "sr0"
    node.touch()
    with SgTransport(str(node)) as sg:
        yield sg


def test_sg_transport_is_a_transport(drive):
    assert isinstance(drive, Transport)
    assert drive.sg_version == 30536


def test_good_data_in_is_trimmed_by_resid_and_duration_comes_from_the_kernel(drive, kernel):
    kernel.answer.update(data=b"\xAA" * 4096, resid=1024, duration=1250)
    done = drive.execute(READ_10_LBA_16_COUNT_2, data_in_length=4096)
    assert done == Completion(data=b"\xAA" * 3072, status=GOOD, sense=b"", duration_s=1.25)
    assert done.ok


def test_a_failed_read_returns_no_data_even_with_resid_zero_and_the_written_sense(drive, kernel):
    # QEMU scsi-cd with a blkdebug error: CHECK CONDITION, resid 0, nothing transferred (docs/reference/qemu.md)
    kernel.answer.update(status=CHECK_CONDITION, data=b"\x55" * 4096, resid=0, sense=MEDIUM_ERROR_03_11_00,
                         driver_status=0x08)
    done = drive.execute(READ_10_LBA_16_COUNT_2, data_in_length=4096)
    assert (done.data, done.status, done.sense, done.driver_status) == (b"", 2, MEDIUM_ERROR_03_11_00, 8)
    assert done.check_condition and not done.ok
    assert done.duration_s >= 0  # kernel duration 0: measured instead


def test_a_recovered_error_completed_so_its_data_is_kept(drive, kernel):
    kernel.answer.update(status=CHECK_CONDITION, data=b"\x11" * 4096, sense=RECOVERED_01_17_01, driver_status=0x08)
    done = drive.execute(READ_10_LBA_16_COUNT_2, data_in_length=4096)
    assert done.data == b"\x11" * 4096 and done.sense == RECOVERED_01_17_01


def test_timeout_goes_to_the_kernel_in_milliseconds(drive, kernel):
    drive.execute(TEST_UNIT_READY, timeout_s=2.0)
    assert struct.unpack_from("<I", kernel.headers[-1], 40)[0] == 2000


def test_host_status_no_connect_means_the_drive_is_gone(drive, kernel):
    kernel.answer.update(host_status=DID_NO_CONNECT)
    with pytest.raises(DriveGone) as info:
        drive.execute(TEST_UNIT_READY)
    assert info.value.exit_code == 4
    assert str(info.value) == (f"{drive.path} stopped answering (host_status DID_NO_CONNECT); "
                               "reconnect it and run the same command to resume")


@pytest.mark.parametrize("err", [errno.ENODEV, errno.ENXIO])
def test_enodev_or_enxio_from_the_ioctl_means_the_drive_is_gone(drive, kernel, err):
    kernel.answer.update(errno=err)
    with pytest.raises(DriveGone, match=rf"stopped answering \({errno.errorcode[err]}: "):
        drive.execute(TEST_UNIT_READY)


@pytest.mark.parametrize("err", [errno.EINVAL, errno.ENOMEM])
def test_a_transfer_too_large_for_the_queue_names_max_sectors_kb(drive, kernel, err):
    kernel.answer.update(errno=err)
    with pytest.raises(DriveError, match="max_sectors_kb") as info:
        drive.execute(READ_10_LBA_16_COUNT_2, data_in_length=1 << 24)
    assert f"{1 << 24} bytes" in str(info.value) and not isinstance(info.value, DriveGone)


def test_close_is_idempotent_and_a_closed_transport_refuses_commands(kernel, tmp_path):
    node = tmp_path / "sr0"
    node.touch()
    sg = SgTransport(str(node))
    assert sg.clock_s >= 0
    sg.close()
    sg.close()
    with pytest.raises(DriveError, match="is closed"):
        sg.execute(TEST_UNIT_READY)


def test_the_context_manager_closes_the_descriptor(kernel, tmp_path):
    node = tmp_path / "sr0"
    node.touch()
    with SgTransport(str(node)) as sg:
        fd = sg._fd
        os.fstat(fd)
    with pytest.raises(OSError):
        os.fstat(fd)


def test_clock_counts_monotonic_seconds_since_open(drive):
    first = drive.clock_s
    assert 0 <= first <= drive.clock_s


# -- max_transfer_bytes ----------------------------------------------------------------------------

def _fake_queue(root: Path) -> None:
    (root / "block" / "sr0" / "queue").mkdir(parents=True)
    (root / "block" / "sr0" / "queue" / "max_sectors_kb").write_text("120\n")
    (root / "class" / "scsi_generic" / "sg1" / "device" / "block" / "sr0").mkdir(parents=True)


def test_max_transfer_bytes_reads_max_sectors_kb_for_sr_and_its_sg_sibling(tmp_path):
    _fake_queue(tmp_path)
    assert max_transfer_bytes("/dev/sr0", sysfs_root=str(tmp_path)) == 120 * 1024
    assert max_transfer_bytes("/dev/sg1", sysfs_root=str(tmp_path)) == 120 * 1024


def test_max_transfer_bytes_is_none_when_unknown(tmp_path):
    assert max_transfer_bytes("/dev/sr9") is None
    assert max_transfer_bytes("/dev/sg7", sysfs_root=str(tmp_path)) is None
    assert max_transfer_bytes("/dev/null") is None


def test_wait_on_a_real_drive_sleeps_on_the_wall_clock(drive, monkeypatch):
    slept = []
    monkeypatch.setattr(t.time, "sleep", slept.append)
    drive.wait(0.2)
    drive.wait(-1)                      # a negative wait is no wait, not an error from time.sleep
    assert slept == [0.2, 0.0]
