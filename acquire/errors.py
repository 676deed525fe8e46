"""The exceptions that stop a run; a failed READ is a value, not one of these.

AcquireError                 exit 1
├── UsageError              exit 2  bad arguments or device syntax
├── CommandRefused          exit 1  opcode not on the read-only allowlist
├── MalformedResponse       exit 1  a drive answer we cannot decode
│   └── MalformedSense
├── ProfileError            exit 1  a simulated drive's profile we cannot use
├── DriveError              exit 1  the drive cannot do what we need
│   ├── NoDrive             exit 1  no such node, not a SCSI device, permission denied
│   ├── NoDisc              exit 1  the drive is empty
│   ├── WrongDisc           exit 1  resume refused: another disc is in the drive
│   ├── MediumChanged       exit 4  the disc may have been swapped mid-run: resumable
│   ├── DriveGone           exit 4  the drive stopped answering: resumable
│   └── DriveConfused       exit 4  the drive answers nonsense after errors: reinsert, resume
├── OutOfSpace              exit 4  the disk filled during a run: resumable
├── NotEnoughSpace          exit 1  refused before reading: the planned outputs do not fit
├── Interrupted             exit 4  Ctrl-C: resumable
├── RecordError             exit 1  a record we cannot use
├── RecordTampered          exit 1  verify found an edited row
├── SigningKeyError         exit 1  a --sign-key we cannot use (passphrase, not Ed25519, no agent)
├── SignatureError          exit 1  a seal signature that cannot be read or does not verify
├── MergeRefused            exit 1  acquire merge: the copies disagree where they can be compared
└── CatalogueError          exit 1  a catalogue we cannot open, or a record it refuses (not intact)
"""
from __future__ import annotations


class AcquireError(Exception):
    """Base of every error that ends a run with one line on stderr."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:  # what, where; then what to do
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message
        self.hint = hint


class UsageError(AcquireError):
    exit_code = 2


class CommandRefused(AcquireError):
    """A CDB outside the read-only allowlist: it never reaches a transport."""


class MalformedResponse(AcquireError):
    """A drive answer (data or sense) we cannot decode."""


class MalformedSense(MalformedResponse):
    pass


class ProfileError(AcquireError):
    """A simulated drive's profile (TOML) that is missing or wrong."""


class DriveError(AcquireError):
    pass


class NoDrive(DriveError):
    pass


class NoDisc(DriveError):
    pass


class WrongDisc(DriveError):
    pass


class MediumChanged(DriveError):
    exit_code = 4


class DriveGone(DriveError):
    exit_code = 4


class DriveConfused(DriveError):
    """After errors the drive reads an area of known content wrong (zeros, or failures): its
    answers cannot be trusted until it is reset. Resumable: nothing it said since is kept."""

    exit_code = 4


class OutOfSpace(AcquireError):
    exit_code = 4


class NotEnoughSpace(AcquireError):
    """The storage plan (acquire.storage) does not fit: refused before the work began, so there
    is nothing to resume. A sibling of OutOfSpace, not a kind of it, so that no handler of a
    disk filling mid-run (exit 4, resumable) takes it for one."""


class Interrupted(AcquireError):
    exit_code = 4


class RecordError(AcquireError):
    pass


class RecordTampered(AcquireError):
    pass


class SigningKeyError(AcquireError):
    """The key named by --sign-key or ACQUIRE_SIGN_KEY cannot sign: checked before the first READ."""


class SignatureError(AcquireError):
    """A seal's SSHSIG file that cannot be read or does not verify (verify reports it as a failed check)."""


class MergeRefused(AcquireError):
    """`acquire merge` found the copies are not of one pressing (or not intact): the one line says
    what, `details` the evidence (the LBAs, the windows, the fields that differ). No output is left."""

    def __init__(self, message: str, *, details: list[str] = (), hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.details = list(details)


class CatalogueError(AcquireError):
    """A catalogue that cannot be opened or written, or a record it will not register (not intact)."""
