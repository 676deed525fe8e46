"""Run in the guest: send each MMC command we use to a drive through acquire's own transport.

    python3 tests/e2e/probe.py /dev/sg0  ->  one JSON list on stdout

Every CDB is written out in hex from the spec (docs/reference/mmc.md), not built by acquire/drive/mmc.py,
so this measures what the emulated drive accepts independently of our builders, while still going
through SgTransport and the read-only guard as the tool does.
"""
from __future__ import annotations

import json
import sys

from acquire.drive.guard import GuardedTransport
from acquire.drive.sg import SgTransport


def _sense(raw: bytes) -> str | None:
    if len(raw) >= 14 and raw[0] & 0x7F in (0x70, 0x71):
        return f"{raw[2] & 0x0F:02X}/{raw[12]:02X}/{raw[13]:02X}"
    if len(raw) >= 4 and raw[0] & 0x7F in (0x72, 0x73):
        return f"{raw[1] & 0x0F:02X}/{raw[2]:02X}/{raw[3]:02X}"
    return None


# (name, CDB hex, data-in bytes)
COMMANDS = [
    ("TEST UNIT READY", "00 00 00 00 00 00", 0),
    ("INQUIRY", "12 00 00 00 60 00", 96),
    ("INQUIRY VPD 80h", "12 01 80 00 fc 00", 252),
    ("READ CAPACITY(10)", "25 00 00 00 00 00 00 00 00 00", 8),
    ("READ(10) LBA 16", "28 00 00 00 00 10 00 00 01 00", 2048),
    ("READ(12) LBA 16", "a8 00 00 00 00 10 00 00 00 01 00 00", 2048),
    # READ CD: byte 1 expected sector type 0 (any); byte 9 10h user data only / f8h sync+headers+data+EDC
    ("READ CD user data", "be 00 00 00 00 10 00 00 01 10 00 00", 2048),
    ("READ CD raw 2352", "be 00 00 00 00 10 00 00 01 f8 00 00", 2352),
    ("READ TOC format 0", "43 00 00 00 00 00 00 03 24 00", 804),
    ("READ TOC format 1", "43 00 01 00 00 00 00 00 0c 00", 12),
    ("READ TOC format 2 MSF", "43 02 02 00 00 00 01 03 24 00", 804),
    # SFF-8020 (old ATAPI) spelling: the format in byte 9 bits 7-6 (40h = format 1)
    ("READ TOC format 1 in byte 9", "43 00 00 00 00 00 00 00 0c 40", 12),
    ("READ DISC INFORMATION", "51 00 00 00 00 00 00 00 22 00", 34),
    ("READ TRACK INFORMATION", "52 01 00 00 00 01 00 00 24 00", 36),
    ("GET CONFIGURATION", "46 00 00 00 00 00 00 10 00 00", 4096),
    ("GET EVENT STATUS (polled)", "4a 01 00 00 10 00 00 00 08 00", 8),
    ("MODE SENSE(10) 01h", "5a 00 01 00 00 00 00 00 fc 00", 252),
    ("MODE SENSE(10) 2Ah", "5a 00 2a 00 00 00 00 00 fc 00", 252),
    ("SET CD SPEED 4x", "bb 00 02 58 ff ff 00 00 00 00 00 00", 0),
    ("GET PERFORMANCE", "ac 00 00 00 00 00 00 00 00 01 00 00", 40),
    ("READ DISC STRUCTURE 00h", "ad 00 00 00 00 00 00 00 08 04 00 00", 2052),
    ("PREVENT ALLOW (allow)", "1e 00 00 00 00 00", 0),
    ("START STOP UNIT (start)", "1b 00 00 00 01 00", 0),
    ("REQUEST SENSE", "03 00 00 00 fc 00", 252),
]


def main(path: str) -> None:
    transport = GuardedTransport(SgTransport(path))
    rows = []

    def send(name: str, cdb: bytes, length: int = 0, data_out: bytes = b"") -> bytes:
        row = {"command": name, "cdb": cdb.hex(" ")}
        try:
            done = transport.execute(cdb, data_in_length=length, data_out=data_out, timeout_s=10)
        except Exception as exc:  # noqa: BLE001 - a probe records whatever happened
            row.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            rows.append(row)
            return b""
        row.update(ok=done.ok, status=done.status, host_status=done.host_status,
                   driver_status=done.driver_status, sense=_sense(done.sense), bytes=len(done.data),
                   head=done.data[:16].hex(" "))
        rows.append(row)
        return done.data if done.ok else b""

    for name, cdb, length in COMMANDS:
        send(name, bytes.fromhex(cdb), length)
        if name == "MODE SENSE(10) 01h":
            page = _error_recovery_page(rows[-1], transport)
            if page:
                # the page sent back as it is, then with the read retry count (byte 3) changed
                header = bytes(8)
                body = bytes([page[0] & 0x3F]) + page[1:]
                select = bytes.fromhex("55 10 00 00 00 00 00 00 00 00")
                length_out = len(header) + len(body)
                cdb = select[:7] + length_out.to_bytes(2, "big") + select[9:]
                send("MODE SELECT(10) 01h unchanged", cdb, data_out=header + body)
                changed = bytearray(body)
                changed[3] = 1 if body[3] != 1 else 2
                send("MODE SELECT(10) 01h retry count changed", cdb, data_out=header + bytes(changed))
        if name == "READ TRACK INFORMATION":
            # REQUEST SENSE right after a refused command: clean on scsi-cd, stale on ide-cd (docs/reference/qemu.md)
            send("REQUEST SENSE after a refused command", bytes.fromhex("03 00 00 00 fc 00"), 252)
            rows[-1]["sense_data"] = rows[-1].get("head")
    # SET STREAMING: a 28-byte performance descriptor (type 00h in byte 8)
    descriptor = bytes(4) + (0).to_bytes(4, "big") + (0xFFFFFFFF).to_bytes(4, "big") \
        + (706).to_bytes(4, "big") + (1000).to_bytes(4, "big") + (706).to_bytes(4, "big") + (1000).to_bytes(4, "big")
    send("SET STREAMING", bytes.fromhex("b6 00 00 00 00 00 00 00 00 00 1c 00"), data_out=descriptor)
    transport.close()
    json.dump(rows, sys.stdout, indent=1)


def _error_recovery_page(row: dict, transport) -> bytes:
    if not row.get("ok"):
        return b""
    done = transport.execute(bytes.fromhex("5a 00 01 00 00 00 00 00 fc 00"), data_in_length=252)
    data = done.data
    if len(data) < 8:
        return b""
    offset = 8 + int.from_bytes(data[6:8], "big")
    if len(data) < offset + 2:
        return b""
    return data[offset:offset + 2 + data[offset + 1]]


if __name__ == "__main__":
    main(sys.argv[1])
