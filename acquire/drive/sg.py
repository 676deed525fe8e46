"""SgTransport: a real drive through Linux SG_IO, called via ctypes (the Transport of transport.py).

/dev/srN (SG_IO through the block layer) or /dev/sgN (the generic node). A CHECK CONDITION comes
back as a Completion with its sense bytes; what stops a run (no node, no permission, a drive that
vanished) raises, translated once here from the errno.
"""
from __future__ import annotations

import ctypes
import errno
import grp
import os
import time
from pathlib import Path

from ..errors import DriveError, DriveGone, NoDisc, NoDrive
from .transport import CHECK_CONDITION, DEFAULT_TIMEOUT_S, DID_NO_CONNECT, DID_OK, GOOD, Completion

SG_IO = 0x2285
SG_GET_VERSION_NUM = 0x2282
SG_INTERFACE_ID = ord("S")
SG_DXFER_NONE = -1
SG_DXFER_TO_DEV = -2
SG_DXFER_FROM_DEV = -3
SG_INFO_CHECK = 0x1          # info bit 0: something went wrong; look at the status fields
SENSE_BUFFER_BYTES = 252     # mx_sb_len is a u8; 252 is the SPC maximum sense length
MAX_CDB_BYTES = 16
RECOVERED_ERROR = 0x01       # sense key: the command completed, with the drive's own recovery

_NOT_SCSI_ERRNOS = (errno.ENOTTY, errno.EINVAL)
_GONE_ERRNOS = (errno.ENODEV, errno.ENXIO)
_TOO_LARGE_ERRNOS = (errno.EINVAL, errno.ENOMEM)


class SgIoHdr(ctypes.Structure):
    """struct sg_io_hdr (<scsi/sg.h>), x86-64: 88 bytes; offsets in docs/reference/mmc.md "Linux SG_IO"."""

    _fields_ = [
        ("interface_id", ctypes.c_int),        # 0   'S'
        ("dxfer_direction", ctypes.c_int),     # 4   -1 none, -2 to device, -3 from device
        ("cmd_len", ctypes.c_ubyte),           # 8
        ("mx_sb_len", ctypes.c_ubyte),         # 9
        ("iovec_count", ctypes.c_ushort),      # 10
        ("dxfer_len", ctypes.c_uint),          # 12
        ("dxferp", ctypes.c_void_p),           # 16
        ("cmdp", ctypes.c_void_p),             # 24
        ("sbp", ctypes.c_void_p),              # 32
        ("timeout", ctypes.c_uint),            # 40  milliseconds
        ("flags", ctypes.c_uint),              # 44
        ("pack_id", ctypes.c_int),             # 48
        ("usr_ptr", ctypes.c_void_p),          # 56
        ("status", ctypes.c_ubyte),            # 64  SCSI status
        ("masked_status", ctypes.c_ubyte),     # 65
        ("msg_status", ctypes.c_ubyte),        # 66
        ("sb_len_wr", ctypes.c_ubyte),         # 67  sense bytes written
        ("host_status", ctypes.c_ushort),      # 68
        ("driver_status", ctypes.c_ushort),    # 70
        ("resid", ctypes.c_int),               # 72  bytes not transferred (not trusted after a failure)
        ("duration", ctypes.c_uint),           # 76  milliseconds
        ("info", ctypes.c_uint),               # 80
    ]


class _Request:
    """One SG_IO header and the buffers it points into (kept alive together for the ioctl)."""

    def __init__(self, hdr: SgIoHdr, cdb: ctypes.Array, data: ctypes.Array | None, sense: ctypes.Array) -> None:
        self.hdr, self.cdb, self.data, self.sense = hdr, cdb, data, sense


def _build_header(cdb: bytes, *, data_in_length: int = 0, data_out: bytes = b"",
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> _Request:
    """The sg_io_hdr for one command, with its CDB, data and sense buffers; no system call."""
    if not 1 <= len(cdb) <= MAX_CDB_BYTES:
        raise ValueError(f"a CDB is 1 to {MAX_CDB_BYTES} bytes, not {len(cdb)}")
    if data_in_length and data_out:
        raise ValueError("a command moves data one way: data_in_length or data_out, not both")
    if data_in_length < 0:
        raise ValueError("data_in_length must be >= 0")
    cdb_buf = (ctypes.c_ubyte * len(cdb)).from_buffer_copy(cdb)
    sense_buf = (ctypes.c_ubyte * SENSE_BUFFER_BYTES)()
    data_buf: ctypes.Array | None
    if data_in_length:
        direction, data_buf = SG_DXFER_FROM_DEV, (ctypes.c_ubyte * data_in_length)()
    elif data_out:
        direction, data_buf = SG_DXFER_TO_DEV, (ctypes.c_ubyte * len(data_out)).from_buffer_copy(data_out)
    else:
        direction, data_buf = SG_DXFER_NONE, None
    # 0 would mean the driver's default timeout and 0xFFFFFFFF none at all: keep ours, in range
    timeout_ms = min(max(1, round(timeout_s * 1000)), 0xFFFFFFFE)
    hdr = SgIoHdr(
        interface_id=SG_INTERFACE_ID,
        dxfer_direction=direction,
        cmd_len=len(cdb),
        mx_sb_len=SENSE_BUFFER_BYTES,
        iovec_count=0,
        dxfer_len=len(data_buf) if data_buf is not None else 0,
        dxferp=ctypes.addressof(data_buf) if data_buf is not None else None,
        cmdp=ctypes.addressof(cdb_buf),
        sbp=ctypes.addressof(sense_buf),
        timeout=timeout_ms,
        flags=0,
    )
    return _Request(hdr, cdb_buf, data_buf, sense_buf)


_libc: ctypes.CDLL | None = None


def _ioctl(fd: int, request: int, arg: ctypes._Pointer | ctypes.Array | ctypes.Structure) -> int:
    """libc ioctl; returns 0 or raises OSError with errno.

    Through ctypes, not fcntl.ioctl: a ctypes foreign call releases the GIL for its duration, so
    hashing and writing threads keep running through a READ that takes the drive 30 s of retries;
    fcntl.ioctl with a mutable buffer holds the GIL for the whole command.
    """
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
        _libc.ioctl.restype = ctypes.c_int
    while True:
        if _libc.ioctl(fd, request, ctypes.byref(arg)) == 0:
            return 0
        err = ctypes.get_errno()
        if err != errno.EINTR:  # a signal: the loop returns to Python, so Ctrl-C still interrupts
            raise OSError(err, os.strerror(err))


def _errno_name(err: int | None) -> str:
    return errno.errorcode.get(err or 0, str(err))


def _sense_key(sense: bytes) -> int | None:
    # fixed format (70h/71h): byte 2 bits 3-0; descriptor format (72h/73h): byte 1 bits 3-0
    if len(sense) >= 3 and sense[0] & 0x7F in (0x70, 0x71):
        return sense[2] & 0x0F
    if len(sense) >= 2 and sense[0] & 0x7F in (0x72, 0x73):
        return sense[1] & 0x0F
    return None


class SgTransport:
    """A real drive: /dev/srN (SG_IO through the block layer) or /dev/sgN (the generic node)."""

    def __init__(self, path: str) -> None:
        self.name = path
        self.path = path
        self._fd: int | None = None
        try:
            # O_NONBLOCK: an empty drive (or one with an open tray) still opens (docs/reference/mmc.md)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise self._open_error(exc) from exc
        try:
            version = ctypes.c_int(0)
            _ioctl(fd, SG_GET_VERSION_NUM, version)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _NOT_SCSI_ERRNOS:
                raise NoDrive(f"{path} is not a SCSI device ({_errno_name(exc.errno)})",
                              hint="give an optical drive such as /dev/sr0; list drives with `acquire drives`") from exc
            if exc.errno in _GONE_ERRNOS:
                raise NoDrive(f"{path} does not answer ({_errno_name(exc.errno)}: {exc.strerror})",
                              hint="check the drive is connected; list drives with `acquire drives`") from exc
            raise NoDrive(f"cannot use {path} ({_errno_name(exc.errno)}: {exc.strerror})",
                          hint="list drives with `acquire drives`") from exc
        self._fd = fd
        self.sg_version = version.value
        self._opened = time.monotonic()

    def _open_error(self, exc: OSError) -> Exception:
        path = self.path
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return NoDrive(f"no such device {path}", hint="list drives with `acquire drives`")
        if exc.errno in (errno.EACCES, errno.EPERM):
            try:
                gid = os.stat(path).st_gid
                try:
                    group = grp.getgrgid(gid).gr_name
                except KeyError:
                    group = str(gid)
            except OSError:
                group = None
            where = f" (group {group})" if group is not None else ""
            who = f"the {group} group" if group is not None else "the device's group"
            return NoDrive(f"permission denied on {path}{where}", hint=f"add yourself to {who} or run as root")
        if exc.errno in _GONE_ERRNOS:
            return NoDrive(f"{path} has no device behind it ({_errno_name(exc.errno)})",
                           hint="check the drive is connected; list drives with `acquire drives`")
        if exc.errno == errno.ENOMEDIUM:
            return NoDisc(f"no disc in {path}", hint="insert the disc and close the tray")
        return NoDrive(f"cannot open {path} ({_errno_name(exc.errno)}: {exc.strerror})",
                       hint="list drives with `acquire drives`")

    # -- the Transport protocol -----------------------------------------------------------------
    def execute(self, cdb: bytes, *, data_in_length: int = 0, data_out: bytes = b"",
                timeout_s: float = DEFAULT_TIMEOUT_S) -> Completion:
        if self._fd is None:
            raise DriveError(f"{self.path} is closed", hint="open it again")
        req = _build_header(cdb, data_in_length=data_in_length, data_out=data_out, timeout_s=timeout_s)
        started = time.monotonic()
        try:
            _ioctl(self._fd, SG_IO, req.hdr)
        except OSError as exc:
            raise self._ioctl_error(exc, cdb, req.hdr.dxfer_len) from exc
        measured_s = time.monotonic() - started
        hdr = req.hdr
        if hdr.host_status == DID_NO_CONNECT:
            raise DriveGone(f"{self.path} stopped answering (host_status DID_NO_CONNECT)",
                            hint="reconnect it and run the same command to resume")
        sense = ctypes.string_at(req.sense, min(hdr.sb_len_wr, SENSE_BUFFER_BYTES))
        data = b""
        if hdr.dxfer_direction == SG_DXFER_FROM_DEV and req.data is not None:
            # resid is only meaningful when the command completed: after a failed READ it stays 0
            # although nothing arrived (docs/reference/qemu.md). A recovered error (sense key 1) completed.
            completed = hdr.host_status == DID_OK and (
                hdr.status == GOOD
                or (hdr.status == CHECK_CONDITION and _sense_key(sense) == RECOVERED_ERROR))
            if completed:
                valid = min(max(hdr.dxfer_len - hdr.resid, 0), hdr.dxfer_len)
                data = ctypes.string_at(req.data, valid)
        return Completion(
            data=data,
            status=hdr.status,
            sense=sense,
            host_status=hdr.host_status,
            driver_status=hdr.driver_status,
            duration_s=hdr.duration / 1000 if hdr.duration else measured_s,
        )

    def _ioctl_error(self, exc: OSError, cdb: bytes, length_bytes: int) -> Exception:
        path, name = self.path, _errno_name(exc.errno)
        if exc.errno in _GONE_ERRNOS:
            return DriveGone(f"{path} stopped answering ({name}: {exc.strerror})",
                             hint="reconnect it and run the same command to resume")
        if exc.errno in _TOO_LARGE_ERRNOS and length_bytes:
            limit = max_transfer_bytes(path)
            known = f"max_sectors_kb allows {limit // 1024} KiB" if limit else "see max_sectors_kb"
            return DriveError(
                f"{path} refused a transfer of {length_bytes} bytes ({name}): larger than the kernel "
                f"queue allows ({known} in /sys/block/<srN>/queue/)",
                hint="read fewer sectors per command (64 KiB is safe)")
        if exc.errno == errno.EPERM:
            # without CAP_SYS_RAWIO the kernel passes only its list of safe commands on a
            # read-only open (docs/reference/mmc.md); SET CD SPEED, SET STREAMING, MODE SELECT are not on it
            return DriveError(f"the kernel refused opcode {cdb[0]:02X}h on {path} (EPERM)",
                              hint="run as root (CAP_SYS_RAWIO) to send it")
        if exc.errno == errno.ENOMEDIUM:
            return NoDisc(f"no disc in {path}", hint="insert the disc and close the tray")
        return DriveError(f"SG_IO on {path} failed ({name}: {exc.strerror})",
                          hint="check the drive and its connection, then run the same command again")

    @property
    def clock_s(self) -> float:
        """Monotonic seconds since the transport opened."""
        return time.monotonic() - self._opened

    def wait(self, seconds: float) -> None:
        """A real drive's time passes on the wall clock: sleep."""
        time.sleep(max(seconds, 0.0))

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> SgTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # a leaked transport must not leak its descriptor
        try:
            self.close()
        except Exception:
            pass


def max_transfer_bytes(path: str, *, sysfs_root: str = "/sys") -> int | None:
    """The largest transfer one command may ask for on `path` (srN or sgN), from max_sectors_kb; None if unknown."""
    name = os.path.basename(os.path.realpath(path)) if sysfs_root == "/sys" else os.path.basename(path)
    sys = Path(sysfs_root)
    block: str | None = None
    if name.startswith("sr"):
        block = name
    elif name.startswith("sg"):
        # the generic node's block sibling: /sys/class/scsi_generic/sgN/device/block/srM
        try:
            blocks = sorted(p.name for p in (sys / "class" / "scsi_generic" / name / "device" / "block").iterdir())
        except OSError:
            blocks = []
        block = blocks[0] if blocks else None
    if block is None:
        return None
    try:
        kb = int((sys / "block" / block / "queue" / "max_sectors_kb").read_text().strip())
    except (OSError, ValueError):
        return None
    return kb * 1024 if kb > 0 else None
