"""Tamper evidence: canonical rows, table digests, the hash-chained events, and verification.

Everything here works on a plain sqlite3 connection and is specified in docs/record.md, so that
docs/check_record.py can recompute it with nothing but the standard library.

- A value's canonical form: SQLite's value as Python's sqlite3 returns it (int, float, str, None),
  except that a BLOB becomes {"blob": "<hex>"} (so it never equals a TEXT of the same hex).
- A row's canonical bytes: json.dumps(values in column order, separators=(",", ":"),
  ensure_ascii=True), UTF-8 encoded (ASCII, in fact). Floats use Python's repr.
- A table's digest: SHA-256 over lp(header) + lp(row) for each row in primary-key order (every
  column in order when there is no primary key), where lp(b) = len(b) as 8 bytes big-endian + b,
  and header = canonical([table name, [[column name, declared type], ...]]).
- An event's hash: SHA-256(prev_hash + "\\n" + canonical([id, time_utc, run_id, kind, details_json]))
  as lowercase hex; the first event's prev_hash is 64 zeros.
- A seal is an event of kind "seal" whose details hold, for every table but `events`, its digest,
  row count and chunk digests (to name the edited row), and an overall digest.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

GENESIS = "0" * 64
EVENTS = "events"
SEAL = "seal"
RUN_STARTS = ("run-start", "resume")
RUN_END = "run-end"
# A seal keeps at most this many chunk digests per table: tables up to this size are located to the row.
MAX_CHUNKS = 256
CHUNK_HEX = 16

# Which changes an unsealed (killed) run may have made, so that verify can tell "interrupted" from
# "tampered" for the rows written since the last seal:
FIXED_TABLES = frozenset({"meta", "case_info"})  # written once at creation: never changed by a run
APPEND_ONLY_TABLES = frozenset({"runs", "drives", "provenance", "damage", "passes", "settings", "actions"})
# every other table (sector_map, medium, hashes, windows, later ones) may be rewritten by a run


@dataclass(frozen=True)
class Finding:
    """One thing verify found: 'tampered' (an edit) or 'interrupted' (consistent but unsealed)."""

    severity: str  # 'tampered' | 'interrupted'
    table: str
    row: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.table} {self.row}" if self.row else self.table
        return f"{self.severity}: {where}: {self.message}"


# --- canonical form -------------------------------------------------------------------------------


def canonical_value(value: Any) -> Any:
    """A column value as it enters the canonical JSON: BLOBs become {"blob": hex}."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blob": bytes(value).hex()}
    return value


def canonical(values: Iterable[Any]) -> bytes:
    """The canonical bytes of a row (or of any list of SQLite values)."""
    return json.dumps(
        [canonical_value(v) for v in values], separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def details_json(details: dict[str, Any]) -> str:
    """The one spelling of an event's details: sorted keys, compact, ASCII."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def event_hash(prev_hash: str, id: int, time_utc: str, run_id: int | None, kind: str, details: str) -> str:
    """SHA-256(prev_hash + "\\n" + canonical([id, time_utc, run_id, kind, details_json])), hex."""
    return hashlib.sha256(
        prev_hash.encode("ascii") + b"\n" + canonical([id, time_utc, run_id, kind, details])
    ).hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sealed_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table a seal covers: all of sqlite_master's tables but events and SQLite's own."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name"
    ).fetchall()
    return [name for (name,) in rows if name != EVENTS]


@dataclass(frozen=True)
class _Layout:
    columns: list[str]
    header: bytes
    order: str  # ORDER BY clause
    pk: list[str]


def _layout(conn: sqlite3.Connection, table: str) -> _Layout:
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    columns = [row[1] for row in info]
    types = [row[2] for row in info]
    pk = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    order = ", ".join(_quote(c) for c in (pk or columns))
    header = canonical([table, [[c, t] for c, t in zip(columns, types)]])
    return _Layout(columns, header, order, pk)


def _rows(conn: sqlite3.Connection, table: str, layout: _Layout) -> Iterator[tuple]:
    cols = ", ".join(_quote(c) for c in layout.columns)
    yield from conn.execute(f"SELECT {cols} FROM {_quote(table)} ORDER BY {layout.order}")


def chunk_size(rows: int) -> int:
    return max(1, -(-rows // MAX_CHUNKS))


@dataclass(frozen=True)
class TableDigest:
    digest: str
    rows: int
    chunk: int  # rows per chunk digest
    chunks: list[str]


def table_digest(conn: sqlite3.Connection, table: str, *, chunk: int | None = None, limit: int | None = None) -> TableDigest:
    """The digest of `table`, its row count and its chunk digests (see the module docstring).

    With `limit`, only the first `limit` rows count (verify uses it to check that an append-only
    table still starts with the rows that were sealed)."""
    layout = _layout(conn, table)
    encoded = [canonical(row) for row in _rows(conn, table, layout)]
    if limit is not None:
        encoded = encoded[:limit]
    size = chunk or chunk_size(len(encoded))
    whole = hashlib.sha256(_lp(layout.header))
    chunks = []
    for i in range(0, len(encoded), size):
        part = hashlib.sha256()
        for row in encoded[i : i + size]:
            whole.update(_lp(row))
            part.update(_lp(row))
        chunks.append(part.hexdigest()[:CHUNK_HEX])
    return TableDigest(whole.hexdigest(), len(encoded), size, chunks)


def overall_digest(digests: dict[str, str]) -> str:
    """SHA-256 of canonical([[table, digest], ...]) in table-name order."""
    return hashlib.sha256(canonical([[t, digests[t]] for t in sorted(digests)])).hexdigest()


def seal_details(conn: sqlite3.Connection) -> dict[str, Any]:
    """What a seal event commits to: every table's digest, rows and chunks, and the overall digest."""
    tables, rows, chunk, chunks = {}, {}, {}, {}
    with _lenient_text(conn):
        for table in sealed_tables(conn):
            d = table_digest(conn, table)
            tables[table], rows[table], chunk[table], chunks[table] = d.digest, d.rows, d.chunk, d.chunks
    return {"tables": tables, "rows": rows, "chunk": chunk, "chunks": chunks, "digest": overall_digest(tables)}


class _lenient_text:
    """Decode TEXT with surrogateescape while verifying: an edit that stores invalid UTF-8 is a
    finding, not a crash."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.saved = self.conn.text_factory
        self.conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")

    def __exit__(self, *exc: object) -> None:
        self.conn.text_factory = self.saved


# --- verification ---------------------------------------------------------------------------------


def verify_connection(conn: sqlite3.Connection, *, expected_head: str | None = None) -> list[Finding]:
    """Check the events chain and the latest seal against the tables. Empty list = intact."""
    with _lenient_text(conn):
        return _verify(conn, expected_head)


def _verify(conn: sqlite3.Connection, expected_head: str | None) -> list[Finding]:
    findings: list[Finding] = []
    tampered = lambda table, row, msg: findings.append(Finding("tampered", table, row, msg))  # noqa: E731
    try:
        events = conn.execute(
            "SELECT id, time_utc, run_id, kind, details_json, prev_hash, hash FROM events ORDER BY id"
        ).fetchall()
    except sqlite3.Error as exc:
        tampered(EVENTS, None, f"cannot read the events table ({exc})")
        return findings
    _check_chain(events, expected_head, tampered)
    seal = _latest_seal(events, tampered)
    if seal is None:
        return findings
    unsealed = _check_since_seal(events, seal, findings, tampered)
    _check_tables(conn, seal, unsealed, findings, tampered)
    return findings


Tampered = Callable[[str, str | None, str], None]     # (table, row, message): note an edit


def _check_chain(events: list[tuple], expected_head: str | None, tampered: Tampered) -> None:
    """1. The chain: contiguous ids from 1, each hash recomputes, each prev_hash links."""
    prev, prev_id = GENESIS, 0
    for id, time_utc, run_id, kind, details, prev_hash, hash_ in events:
        row = f"id={id}"
        if id != prev_id + 1:
            tampered(EVENTS, row, f"event ids jump from {prev_id} to {id}: events were deleted or renumbered")
        prev_id = id if isinstance(id, int) else prev_id + 1
        if prev_hash != prev:
            tampered(EVENTS, row, "prev_hash does not match the hash of the event before it")
        try:
            ok = hash_ == event_hash(prev_hash, id, time_utc, run_id, kind, details)
        except (TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            tampered(EVENTS, row, "hash does not recompute from the event's content")
        prev = hash_ if isinstance(hash_, str) else ""
    if expected_head is not None and expected_head not in {e[6] for e in events}:
        tampered(EVENTS, None, f"the noted head hash {expected_head} is not in the chain: events were rewritten or cut")


@dataclass(frozen=True)
class _Seal:
    """What the latest seal event commits to (see seal_details)."""

    id: int
    digests: dict[str, str]
    counts: dict[str, int]
    chunk: dict[str, int]
    chunks: dict[str, list[str]]


def _latest_seal(events: list[tuple], tampered: Tampered) -> _Seal | None:
    """2a. The latest seal, if there is one and its details can be read."""
    seals = [e for e in events if e[3] == SEAL]
    if not seals:
        tampered(EVENTS, None, "no seal event: nothing commits to the tables' content")
        return None
    seal = seals[-1]
    try:
        sealed = json.loads(seal[4])
        digests: dict[str, str] = sealed["tables"]
        counts: dict[str, int] = sealed["rows"]
        chunk: dict[str, int] = sealed["chunk"]
        chunks: dict[str, list[str]] = sealed["chunks"]
        if not all(isinstance(d, dict) for d in (digests, counts, chunk, chunks)) or not all(
            isinstance(chunk.get(t), int) and chunk[t] > 0 and isinstance(counts.get(t), int) for t in digests
        ):
            raise ValueError("malformed seal")
    except (TypeError, ValueError, KeyError):
        tampered(EVENTS, f"id={seal[0]}", "the seal's details cannot be read")
        return None
    if overall_digest(digests) != sealed.get("digest"):
        tampered(EVENTS, f"id={seal[0]}", "the seal's overall digest does not match its table digests")
    return _Seal(seal[0], digests, counts, chunk, chunks)


def _check_since_seal(events: list[tuple], seal: _Seal, findings: list[Finding], tampered: Tampered) -> bool:
    """2b. What happened after the seal; True when a run has changed the record since (unsealed)."""
    after = [e for e in events if e[0] > seal.id]
    ended_unsealed = [e for e in after if e[3] == RUN_END]
    for e in ended_unsealed:
        tampered(EVENTS, f"id={e[0]}", f"run {e[2]} ended but its seal is missing")
    unsealed = bool(after) and not ended_unsealed
    if unsealed:
        started = [e for e in after if e[3] in RUN_STARTS]
        if not started:
            findings.append(Finding(
                "interrupted", EVENTS, f"id={after[0][0]}",
                f"{len(after)} events since the seal of event {seal.id} and no run: changes since are "
                "not sealed yet (the next run's end seals them)",
            ))
        for e in started:
            findings.append(Finding(
                "interrupted", "runs", f"id={e[2]}" if e[2] is not None else None,
                f"run {e[2]} started {e[1]} and never ended (killed?); the record is consistent up to "
                f"the seal of event {seal.id} and unsealed since: resume to finish and seal it",
            ))
    return unsealed


def _check_tables(conn: sqlite3.Connection, seal: _Seal, unsealed: bool, findings: list[Finding],
                  tampered: Tampered) -> None:
    """3. Every table against the seal."""
    current = sealed_tables(conn)
    for table in sorted(set(seal.digests) - set(current)):
        tampered(table, None, f"table was sealed by event {seal.id} and is gone")
    for table in current:
        if table not in seal.digests:
            if unsealed and table not in FIXED_TABLES:
                findings.append(Finding("interrupted", table, None, "table created since the last seal"))
            else:
                tampered(table, None, f"table is not covered by the seal of event {seal.id}: it was added")
            continue
        try:
            now = table_digest(conn, table, chunk=seal.chunk.get(table))
        except sqlite3.Error as exc:
            tampered(table, None, f"cannot read the table ({exc})")
            continue
        if now.digest == seal.digests[table]:
            continue
        if unsealed and table not in FIXED_TABLES:
            now = _unsealed_change(conn, table, now, seal, findings)
            if now is None:
                continue
        row, message = _locate(conn, table, now, seal.counts.get(table, -1), seal.chunks.get(table, []))
        tampered(table, row, f"{message}; the seal of event {seal.id} does not match")


def _unsealed_change(conn: sqlite3.Connection, table: str, now: TableDigest, seal: _Seal,
                     findings: list[Finding]) -> TableDigest | None:
    """A change the unsealed run may have made: None when it is one (noted as interrupted), else the
    digest to locate the edit in."""
    if table not in APPEND_ONLY_TABLES:
        findings.append(Finding("interrupted", table, None, "changed since the last seal by the unsealed run"))
        return None
    prefix = table_digest(conn, table, chunk=seal.chunk.get(table), limit=seal.counts.get(table, 0))
    if prefix.rows == seal.counts.get(table) and prefix.digest == seal.digests[table]:
        findings.append(Finding(
            "interrupted", table, None,
            f"{now.rows - prefix.rows} rows added since the last seal by the unsealed run",
        ))
        return None
    return prefix if prefix.rows == seal.counts.get(table) else now


def _locate(conn: sqlite3.Connection, table: str, now: TableDigest, sealed_rows: int, sealed_chunks: list[str]) -> tuple[str | None, str]:
    """Name the first row (or chunk of rows) that differs from the seal, where the seal allows it."""
    first = next(
        (i for i, (a, b) in enumerate(zip(now.chunks, sealed_chunks)) if a != b),
        min(len(now.chunks), len(sealed_chunks)),
    )
    if sealed_rows == now.rows:
        counted = f"{now.rows} rows, as sealed"
        change = "differs from what was sealed"
    else:
        counted = f"{sealed_rows} rows sealed, {now.rows} now"
        change = "first difference: a row was " + ("inserted" if now.rows > sealed_rows else "deleted") + " or changed here"
    if first * now.chunk >= now.rows:
        if sealed_rows > now.rows:
            return None, f"rows after the last one were deleted ({counted})"
        return None, f"the table's header (name or columns) changed ({counted})"
    layout = _layout(conn, table)
    keys = layout.pk or []
    lo, hi = first * now.chunk, min(now.rows, (first + 1) * now.chunk) - 1
    named = []
    for index in (lo, hi) if hi != lo else (lo,):
        if keys:
            cols = ", ".join(_quote(c) for c in keys)
            values = conn.execute(
                f"SELECT {cols} FROM {_quote(table)} ORDER BY {layout.order} LIMIT 1 OFFSET ?", (index,)
            ).fetchone()
            named.append(", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in zip(keys, values)))
        else:
            named.append(f"#{index + 1}")
    row = named[0] if len(named) == 1 else f"{named[0]} .. {named[1]}"
    what = "row" if len(named) == 1 else f"among rows #{lo + 1}..#{hi + 1} (a seal names rows {now.chunk} at a time here)"
    return row, f"{what} {change} ({counted})" if len(named) == 1 else f"{change}, {what} ({counted})"
