"""Encrypted transport copies: a bag (as a tar stream) or an E01 file, as one age file (docs/bagit.md).

    path, sha256 = encrypt_to(Path("/archive/C-1_E-7"), ["age1...", "ssh-ed25519 AAAA..."], Path("C-1_E-7.tar.age"))

Recipients are age X25519 public keys (`age1...`) or SSH public keys (`ssh-ed25519 ...`,
`ssh-rsa ...`); any one of their identities decrypts the copy, with `age -d -i KEY` or pyrage.
The returned SHA-256 is of the ciphertext, as written: the receiver can confirm that what arrived
is what was sent without holding a key, and the sender can keep it in the record. age picks a new
file key for every encryption, so the same bag encrypted twice gives two different ciphertexts:
the hash names this copy, not the bag.

A directory is sent as a tar (POSIX ustar/pax) whose bytes depend only on what is in it: entries
in sorted name order, each directory before what it holds, owner 0/0 with no user or group names,
the real permission bits and the real modification times (whole seconds). The times are kept
because they are part of the evidence (when the image was finished, when the bag was made) and
they do not change while the bag does not; sorted order is what makes two tars of the same bag
equal byte for byte, since os.scandir's order is the file system's. The tar is streamed through
a pipe into the encryptor, so no plaintext copy of the bag is ever written.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
import threading
from pathlib import Path
from typing import BinaryIO, Iterable

import pyrage

from ..errors import AcquireError, OutOfSpace, UsageError

SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa")     # what age (and pyrage) take as SSH recipients
AGE_RECIPIENT_PREFIX = "age1"                  # Bech32, human-readable part "age" (age spec)


def encrypt_to(path_or_dir: Path, recipients: Iterable[str], out: Path) -> tuple[Path, str]:
    """Encrypt a file, or a directory as the tar of bag_tar(), to `out` for `recipients`.
    Returns (out, the SHA-256 of the ciphertext, hex). `out` appears only when complete."""
    source, out = Path(path_or_dir), Path(out)
    keys = parse_recipients(recipients)
    if out.exists():
        raise UsageError(f"{out} already exists", hint="choose a new name for the encrypted copy")
    if not source.exists():
        raise UsageError(f"cannot encrypt {source}: no such file or directory")
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "wb") as f:
            sink = _HashingWriter(f)
            if source.is_dir():
                _encrypt_stream(lambda w: bag_tar(source, w), keys, sink)
            else:
                with open(source, "rb") as plain:
                    _encrypt(plain, keys, sink)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, out)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _translate(exc, out) from exc
        raise
    return out, sink.sha256.hexdigest()


def parse_recipients(recipients: Iterable[str]) -> list:
    """pyrage recipients from their text; UsageError naming the first one that is not a key."""
    keys = []
    for text in recipients:
        text = text.strip()
        try:
            if text.startswith(AGE_RECIPIENT_PREFIX):
                keys.append(pyrage.x25519.Recipient.from_str(text))
            elif text.split(" ", 1)[0] in SSH_KEY_TYPES:
                keys.append(pyrage.ssh.Recipient.from_str(text))
            else:
                raise UsageError(f"{_short(text)!r} is not an age or SSH public key",
                                 hint=f"give age1... or one of {', '.join(SSH_KEY_TYPES)} (a .pub file's line)")
        except pyrage.RecipientError as exc:
            raise UsageError(f"cannot use recipient {_short(text)!r} ({exc})") from exc
    if not keys:
        raise UsageError("no recipients", hint="give at least one age or SSH public key")
    return keys


def read_recipients(path: Path) -> list[str]:
    """The recipients in a file, as age -R reads them: one a line, blank lines and #-comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read recipients from {path} ({exc.strerror})") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def bag_tar(directory: Path, fileobj: BinaryIO) -> None:
    """Write `directory` to `fileobj` as the deterministic tar described above; names start with
    the directory's own name, so extracting it gives the directory back."""
    directory = Path(directory)
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in _entries(directory, directory.name):
            st = os.lstat(path)
            info = tarfile.TarInfo(arcname)
            info.mode = stat.S_IMODE(st.st_mode)
            info.mtime = int(st.st_mtime)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif stat.S_ISREG(st.st_mode):   # a hard-linked image is a regular file here, never a link entry
                info.type = tarfile.REGTYPE
                info.size = st.st_size
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                raise AcquireError(f"cannot put {path} in the tar: not a regular file or directory",
                                   hint="a bag holds only files and directories")


def _entries(path: Path, arcname: str):
    yield path, arcname
    if path.is_dir() and not path.is_symlink():
        for name in sorted(os.listdir(path), key=os.fsencode):
            yield from _entries(path / name, f"{arcname}/{name}")


class _HashingWriter:
    """What the encryptor writes to: the file, and the ciphertext's SHA-256 on the way."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.sha256 = hashlib.sha256()
        self.error: OSError | None = None     # pyrage hands a writer's OSError back as EncryptError text

    def write(self, data) -> int:
        self.sha256.update(data)
        try:
            self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise
        return len(data)

    def flush(self) -> None:
        self.f.flush()


def _encrypt(reader: BinaryIO, keys: list, sink: _HashingWriter) -> None:
    try:
        pyrage.encrypt_io(reader, sink, keys)
    except pyrage.EncryptError as exc:
        if sink.error is not None:           # a full disk stays a full disk (encrypt_to translates it)
            raise sink.error from exc
        raise AcquireError(f"cannot encrypt ({exc})") from exc


def _encrypt_stream(produce, keys: list, sink: _HashingWriter) -> None:
    """`produce(writer)` in a thread, into a pipe the encryptor reads: nothing in plaintext on disk."""
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with writer:
                produce(writer)
        except BrokenPipeError:            # the encryptor stopped first; its error is the one to tell
            pass
        except BaseException as exc:       # told below: a tar cut short must not pass for a whole one
            failed.append(exc)

    thread = threading.Thread(target=run, name="bag-tar", daemon=True)
    thread.start()
    try:
        with reader:
            _encrypt(reader, keys, sink)
    finally:
        thread.join()
    if failed:
        raise failed[0]


def _translate(exc: OSError, out: Path) -> AcquireError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutOfSpace(f"not enough space for {out}", hint="free space or choose another place, then run it again")
    return AcquireError(f"cannot write {out} ({exc.strerror or exc})")


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
