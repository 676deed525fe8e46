"""The seal file, IMAGE.seal.json: what one run acquired, in canonical JSON, to be signed (docs/seal.md).

Every field is derived from the record as it stood at the run's closing seal event, so the file
can be rebuilt from the record at any time and compared byte for byte: that is the seal check of
`acquire verify`. The chain head it names is that closing seal event's hash; the 'seal-signed' (or
'seal-unsigned') event naming the file's SHA-256 is appended after it, and a new record seal after
that, so the record commits to the file and the file to the record up to the run's end.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from ..record import Record

FORMAT = "acquire-seal/1"
SIGNED = "seal-signed"
UNSIGNED = "seal-unsigned"
SEAL_EVENTS = (SIGNED, UNSIGNED)
CODE_HEX_DIGITS = 20


def canonical(document: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 (not \\u escapes), no trailing newline: one spelling, reproducible."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def seal_code(data: bytes) -> str:
    """The first 20 hex digits of the file's SHA-256 in groups of 4, for a paper form: ab12-cd34-..."""
    digits = hashlib.sha256(data).hexdigest()[:CODE_HEX_DIGITS]
    return "-".join(digits[i:i + 4] for i in range(0, CODE_HEX_DIGITS, 4))


def merkle_root(leaves: Iterable[bytes]) -> str:
    """The Merkle root over the windows' strong digests (32 bytes each: BLAKE3, or SHA-256 in an older
    record), in index order, hex; the parents are SHA-256 in either case.

    A parent is SHA-256(left || right); a level of odd length promotes its last node unchanged to
    the next level (it is not duplicated, so no two leaf lists share a root by repetition). One
    leaf is its own root; no leaves give SHA-256 of nothing. The leaf count is in the seal beside
    the root, which fixes the tree's shape.
    """
    level = list(leaves)
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


def build(record: Record, run_id: int, event_id: int) -> dict[str, Any]:
    """The seal document of run `run_id`, closed by the seal event `event_id`, from the record."""
    conn = record.db.conn
    run = conn.execute("SELECT tool_version, status, drive_id FROM runs WHERE id = ?", (run_id,)).fetchone()
    event = conn.execute("SELECT hash, time_utc FROM events WHERE id = ?", (event_id,)).fetchone()
    if run is None or event is None:
        raise LookupError(f"the record has no run {run_id} or no event {event_id}")
    tool_version, status, drive_id = run
    drive = conn.execute("SELECT vendor, product, revision, serial FROM drives WHERE id = ?", (drive_id,)).fetchone()
    case = record.case()
    medium = record.medium() or {}
    windows = conn.execute("SELECT 1 FROM windows LIMIT 1").fetchone()
    sizes = conn.execute("SELECT count(*), max(length) FROM windows").fetchone()
    leaf = record.window_hash()      # blake3; sha256 in a record written before BLAKE3 windows
    leaves = (bytes.fromhex(h) for (h,) in conn.execute(f"SELECT {leaf} FROM windows ORDER BY idx"))
    return {
        "format": FORMAT,
        "tool": {"name": "acquire", "version": tool_version},
        "case": {k: case.get(k) for k in ("case_id", "evidence_id", "examiner")},
        "drive": dict(zip(("vendor", "product", "revision", "serial"), drive or (None,) * 4)),
        "medium": {k: medium.get(k) for k in ("profile", "profile_name", "capacity", "sector_size")},
        "image": {
            "status": status,
            "size": record.image_size(),
            "hashes": record.image_hashes(),
            "windows": {"count": sizes[0], "bytes": sizes[1] if windows else None,
                        "merkle_root": merkle_root(leaves), "leaf": leaf},
        },
        "record": {"run_id": run_id, "event_count": event_id, "chain_head": event[0]},
        "sealed_utc": event[1],
    }


def differences(found: Any, expected: Any, where: str = "") -> list[str]:
    """The dotted paths where two documents differ, each with both values."""
    if isinstance(found, dict) and isinstance(expected, dict):
        out = []
        for key in sorted(set(found) | set(expected)):
            path = f"{where}.{key}" if where else key
            if key not in found:
                out.append(f"{path}: missing from the file, the record says {expected[key]!r}")
            elif key not in expected:
                out.append(f"{path}: in the file ({found[key]!r}) but not derivable from the record")
            else:
                out += differences(found[key], expected[key], path)
        return out
    return [] if found == expected else [f"{where}: the file says {found!r}, the record {expected!r}"]
