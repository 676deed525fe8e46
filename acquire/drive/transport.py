"""Bytes to a drive and back: the Transport protocol every drive answers through.

A transport executes one CDB and returns a Completion. A CHECK CONDITION is a value (status 02h
plus sense bytes), never an exception: the engine decides what a bad sector means. Exceptions
are for what stops a run (a node that does not exist, a drive that vanished). Two transports
implement it: sg.SgTransport (a real drive, Linux SG_IO) and the simulated drive in sim/.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

GOOD = 0x00
CHECK_CONDITION = 0x02
BUSY = 0x08

DID_OK = 0x00
DID_NO_CONNECT = 0x01

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Completion:
    """What came back from one command."""

    data: bytes = b""          # data-in; trimmed by resid when status is GOOD, else empty
    status: int = GOOD         # SCSI status byte
    sense: bytes = b""         # raw sense bytes (autosense), empty when none
    host_status: int = DID_OK  # SG_IO host_status (transport-level failure when non-zero)
    driver_status: int = 0     # SG_IO driver_status
    duration_s: float = 0.0    # what the command cost: measured, or the simulated clock's charge

    @property
    def ok(self) -> bool:
        return self.status == GOOD and self.host_status == DID_OK and (self.driver_status & 0x0F) == 0

    @property
    def check_condition(self) -> bool:
        return self.status == CHECK_CONDITION and bool(self.sense)


@runtime_checkable
class Transport(Protocol):
    """Execute a CDB: data_in_length bytes expected from the device, or data_out sent to it."""

    name: str  # what the user named: "/dev/sr0" or "sim:fixtures/clean.toml"

    def execute(self, cdb: bytes, *, data_in_length: int = 0, data_out: bytes = b"",
                timeout_s: float = DEFAULT_TIMEOUT_S) -> Completion: ...

    @property
    def clock_s(self) -> float:
        """Seconds of drive time since the transport opened (simulated clock for a simulated drive)."""
        ...

    def wait(self, seconds: float) -> None:
        """Let `seconds` of drive time pass (a drive becoming ready): a real drive sleeps, a
        simulated one charges its clock, so tests of the waiting never wait."""
        ...

    def close(self) -> None: ...
