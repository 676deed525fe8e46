"""The seal-file and signature layers of `acquire verify` (docs/seal.md "What verify checks")."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SignatureError
from ..record import Record
from . import allowed, document, sshsig
from .signer import NAMESPACE


@dataclass
class Layer:
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def seal_paths(image: Path) -> tuple[Path, Path]:
    seal = image.with_name(image.name + ".seal.json")
    return seal, seal.with_name(seal.name + ".sig")


def latest_seal_event(record: Record) -> dict | None:
    rows = record.db.conn.execute(
        "SELECT id, kind, details_json FROM events WHERE kind IN (?, ?) ORDER BY id DESC LIMIT 1",
        document.SEAL_EVENTS).fetchone()
    if rows is None:
        return None
    try:
        details = json.loads(rows[2])
    except ValueError:
        details = {}
    return {"id": rows[0], "kind": rows[1], **(details if isinstance(details, dict) else {})}


def check_seal_file(record: Record, seal_path: Path) -> Layer:
    """The file is the one the record's latest seal event names, and says what the record says."""
    event = latest_seal_event(record)
    if event is None:
        if seal_path.exists():
            return Layer(False, f"{seal_path.name} exists but the record holds no seal-signed or seal-unsigned event")
        return Layer(True, "no seal file: the record holds no sealed run (made before seal files existed)")
    if not seal_path.exists():
        return Layer(False, f"{seal_path.name} is missing; event {event['id']} ({event['kind']}) says it was written")
    data = seal_path.read_bytes()
    details = []
    actual = hashlib.sha256(data).hexdigest()
    if actual != event.get("seal_sha256"):
        details.append(f"sha256 {actual}, event {event['id']} recorded {event.get('seal_sha256')}")
    try:
        found = json.loads(data.decode("utf-8"))
        run_id, event_id = found["record"]["run_id"], found["record"]["event_count"]
        expected = document.build(record, run_id, event_id)
    except (ValueError, KeyError, TypeError, LookupError) as exc:
        return Layer(False, f"{seal_path.name} cannot be read as a seal ({type(exc).__name__}: {exc})", details)
    details += document.differences(found, expected)
    if document.canonical(found) != data and not details:
        details.append("the file is not in canonical form (sorted keys, no spaces)")
    if details:
        return Layer(False, f"{seal_path.name} does not match the record", details)
    return Layer(True, f"{seal_path.name} matches the record (run {run_id}, chain head {expected['record']['chain_head']} "
                 f"at event {event_id}; code {document.seal_code(data)})")


def check_signature(record: Record, seal_path: Path, sig_path: Path, *, allowed_signers: Path | None = None,
                    identity: str | None = None, fingerprint: str | None = None) -> Layer:
    """A valid SSHSIG over the seal file in namespace acquire-seal, by the key the record names,
    and (with allowed_signers or fingerprint) a trusted one."""
    event = latest_seal_event(record)
    if event is None:
        return Layer(True, "no seal, no signature to check")
    if event["kind"] == document.UNSIGNED:
        if sig_path.exists():
            return Layer(False, f"unsigned according to event {event['id']}, yet {sig_path.name} exists")
        if allowed_signers or fingerprint:
            return Layer(False, f"unsigned: the run was sealed without a key ({event.get('reason', 'no --sign-key')}), "
                         "so no trusted signer can be checked")
        return Layer(True, f"unsigned: the run was sealed without a key ({event.get('reason', 'no --sign-key')})")
    if not sig_path.exists():
        return Layer(False, f"{sig_path.name} is missing; event {event['id']} says the seal was signed")
    if not seal_path.exists():
        return Layer(False, f"{seal_path.name} is missing: nothing to check the signature over")
    try:
        sig = sshsig.parse(sig_path.read_text(encoding="ascii", errors="replace"))
        sshsig.verify(sig, seal_path.read_bytes(), NAMESPACE)
    except SignatureError as exc:
        return Layer(False, f"{sig_path.name}: {exc}")
    details = []
    if sig.fingerprint != event.get("fingerprint"):
        details.append(f"signed by {sig.fingerprint}, but event {event['id']} recorded {event.get('fingerprint')}")
    if fingerprint is not None and sig.fingerprint != fingerprint:
        details.append(f"signed by {sig.fingerprint}, not the expected {fingerprint}")
    trusted = ""
    if allowed_signers is not None:
        try:
            principals = allowed.principals_for(allowed.parse(allowed_signers), sig.key_blob, NAMESPACE,
                                                identity=identity)
        except SignatureError as exc:
            return Layer(False, str(exc))
        if not principals:
            who = f" for {identity}" if identity else ""
            details.append(f"the key {sig.fingerprint} is not in {allowed_signers}{who} (namespace {NAMESPACE})")
        trusted = f", trusted for {', '.join(principals)} by {allowed_signers}" if principals else ""
    if details:
        return Layer(False, "the signature is valid but not by the expected key", details)
    if trusted or fingerprint is not None:
        return Layer(True, f"valid SSHSIG ({NAMESPACE}, {sig.hash_alg}) by {sig.fingerprint}"
                     f"{trusted or ', the expected fingerprint'}")
    return Layer(True, f"valid SSHSIG ({NAMESPACE}, {sig.hash_alg}) by {sig.fingerprint}; the key was NOT checked "
                 "against a trusted one (give --allowed-signers FILE or --signer-fingerprint)")
