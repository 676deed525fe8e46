"""The signed seal of a run: IMAGE.seal.json in canonical JSON and IMAGE.seal.json.sig in SSHSIG form (docs/seal.md).

    signer = resolve("agent:")                # or a key file, or None: unsigned; before the first READ
    ...
    sealed = write_seal(record, run_id, image, signer)    # after record.end_run(); sealed.code for the form
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AcquireError
from ..durable import write_durably
from ..record import Record
from . import document
from .check import seal_paths
from .signer import NAMESPACE, Signer, resolve

__all__ = ["NAMESPACE", "Sealed", "Signer", "resolve", "seal_paths", "write_seal"]


@dataclass(frozen=True, slots=True)
class Sealed:
    path: Path
    signature: Path | None            # None: unsigned
    sha256: str
    code: str
    fingerprint: str | None
    note: str = ""                    # why a run meant to be signed was not
    signing_s: float = 0.0

    def as_json(self) -> dict:
        return {"seal": str(self.path), "seal_signature": str(self.signature) if self.signature else None,
                "seal_sha256": self.sha256, "seal_code": self.code, "signed_by": self.fingerprint}


def write_seal(record: Record, run_id: int, image: Path, signer: Signer | None) -> Sealed:
    """Write the seal of the run that end_run() just closed, sign it, and chain the outcome into the record."""
    event_id = record.db.conn.execute("SELECT max(id) FROM events").fetchone()[0]
    data = document.canonical(document.build(record, run_id, event_id))
    seal_path, sig_path = seal_paths(image)
    write_durably(seal_path, data)
    sha256, code = hashlib.sha256(data).hexdigest(), document.seal_code(data)
    fingerprint, note, took = None, "", 0.0
    if signer is not None:
        start = time.perf_counter()
        try:
            write_durably(sig_path, signer.sign(data))
            fingerprint = signer.fingerprint
        except AcquireError as exc:      # an agent gone away after hours of imaging: the run still stands
            note = f"not signed: {exc}"
        took = time.perf_counter() - start
    if fingerprint is None:
        sig_path.unlink(missing_ok=True)     # a previous run's signature is not this seal's
        record.log_event(run_id, document.UNSIGNED, seal_sha256=sha256, seal_code=code, file=seal_path.name,
                         reason=note or "no --sign-key and no ACQUIRE_SIGN_KEY")
    else:
        record.log_event(run_id, document.SIGNED, seal_sha256=sha256, seal_code=code, file=seal_path.name,
                         fingerprint=fingerprint, namespace=NAMESPACE, signature_file=sig_path.name)
    record.seal(run_id)
    return Sealed(seal_path, sig_path if fingerprint else None, sha256, code, fingerprint, note, took)

