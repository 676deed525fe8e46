#!/usr/bin/env python3
"""Check an acquire record's event chain and seal with nothing but Python's standard library.

    python3 check_record.py IMAGE.custody.sqlite [--head HASH]

Independent of acquire (it imports nothing from it): it follows docs/record.md, "Checking a record
yourself". Prints one line per check; exits 0 when the record is intact and sealed, 1 otherwise
(tampered, or unsealed because a run was killed), 2 on bad arguments.
"""
import hashlib
import json
import pathlib
import sqlite3
import sys

GENESIS = "0" * 64
FIXED_TABLES = {"meta", "case_info"}
APPEND_ONLY_TABLES = {"runs", "drives", "provenance", "damage", "passes", "settings"}


def canonical(values):
    """A row's canonical bytes: JSON array, compact, ASCII; a BLOB becomes {"blob": hex}."""
    values = [{"blob": bytes(v).hex()} if isinstance(v, (bytes, memoryview)) else v for v in values]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def lp(data):
    """Length-prefixed: 8 bytes big-endian length, then the bytes."""
    return len(data).to_bytes(8, "big") + data


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def table_digest(conn, table, limit=None):
    """SHA-256 over lp(header) and lp(row) for each row in primary-key order; (hex, rows)."""
    info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()  # cid, name, type, notnull, default, pk
    columns = [c[1] for c in info]
    pk = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])]
    order = ", ".join(quote(c) for c in (pk or columns))  # no primary key: every column in order
    digest = hashlib.sha256(lp(canonical([table, [[c[1], c[2]] for c in info]])))
    rows = 0
    for row in conn.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} ORDER BY {order}"):
        if limit is not None and rows == limit:
            break
        digest.update(lp(canonical(row)))
        rows += 1
    return digest.hexdigest(), rows


def main(argv):
    args = argv[1:]
    head = None
    if "--head" in args:
        i = args.index("--head")
        head = args[i + 1] if i + 1 < len(args) else None
        del args[i : i + 2]
    if len(args) != 1 or (head is None and "--head" in argv):
        print("usage: check_record.py RECORD [--head HASH]", file=sys.stderr)
        return 2
    try:
        conn = sqlite3.connect(pathlib.Path(args[0]).resolve().as_uri() + "?mode=ro", uri=True)
        conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
        events = conn.execute(
            "SELECT id, time_utc, run_id, kind, details_json, prev_hash, hash FROM events ORDER BY id"
        ).fetchall()
    except sqlite3.Error as exc:
        print(f"FAIL record: cannot read {args[0]} ({exc})")
        return 1

    failed = False

    def check(ok, line):
        nonlocal failed
        failed |= not ok
        print(("ok   " if ok else "FAIL ") + line)

    # 1. The chain.
    bad_ids = [e[0] for i, e in enumerate(events, 1) if e[0] != i]
    check(not bad_ids, f"events: ids run 1..{len(events)} without a gap" if not bad_ids
          else f"events: ids jump at id {bad_ids[0]} (events deleted or renumbered)")
    prev, bad_links, bad_hashes = GENESIS, [], []
    for id, time_utc, run_id, kind, details, prev_hash, hash_ in events:
        if prev_hash != prev:
            bad_links.append(id)
        content = canonical([id, time_utc, run_id, kind, details])
        if hash_ != hashlib.sha256(str(prev_hash).encode("utf-8", "surrogateescape") + b"\n" + content).hexdigest():
            bad_hashes.append(id)
        prev = hash_
    check(not bad_links, "events: every prev_hash is the hash of the event before" if not bad_links
          else f"events: prev_hash does not link at event id {bad_links[0]}")
    check(not bad_hashes, "events: every hash recomputes from its content" if not bad_hashes
          else f"events: hash does not recompute at event id {bad_hashes[0]}")
    if head is not None:
        found = head in {e[6] for e in events}
        check(found, f"events: the noted head {head[:16]}... is in the chain" if found
              else f"events: the noted head {head[:16]}... is NOT in the chain: rewritten or cut")

    # 2. The latest seal, and what came after it.
    seals = [e for e in events if e[3] == "seal"]
    check(bool(seals), f"seal: latest is event {seals[-1][0]}" if seals else "seal: none found")
    if not seals:
        return 1
    seal = seals[-1]
    try:
        sealed = json.loads(seal[4])
        digests, counts = sealed["tables"], sealed["rows"]
        overall = hashlib.sha256(canonical([[t, digests[t]] for t in sorted(digests)])).hexdigest()
        check(overall == sealed["digest"], "seal: overall digest matches its table digests")
    except (ValueError, KeyError, TypeError):
        check(False, "seal: details cannot be read")
        return 1
    after = [e for e in events if e[0] > seal[0]]
    ended = [e for e in after if e[3] == "run-end"]
    check(not ended, "seal: every run that ended was sealed" if not ended
          else f"seal: run {ended[0][2]} ended (event {ended[0][0]}) but its seal is missing")
    unsealed = bool(after) and not ended
    check(not unsealed, "seal: no event after the latest seal" if not unsealed
          else f"seal: {len(after)} events after the latest seal: a run was interrupted (unsealed, not tampered)")

    # 3. Every table but events against the seal.
    tables = [n for (n,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ) if n != "events"]
    for table in sorted(set(digests) - set(tables)):
        check(False, f"table {table}: sealed but gone")
    for table in tables:
        if table not in digests:
            check(False, f"table {table}: not covered by the seal" + (" (created by the unsealed run)" if unsealed else ""))
            continue
        digest, rows = table_digest(conn, table)
        if digest == digests[table]:
            check(True, f"table {table}: digest matches the seal ({rows} rows)")
        elif unsealed and table not in FIXED_TABLES and table not in APPEND_ONLY_TABLES:
            check(False, f"table {table}: changed by the unsealed run")
        elif unsealed and table in APPEND_ONLY_TABLES and table_digest(conn, table, counts.get(table, 0)) == (digests[table], counts.get(table)):
            check(False, f"table {table}: {rows - counts[table]} rows appended by the unsealed run")
        else:
            check(False, f"table {table}: TAMPERED, digest differs from the seal ({counts.get(table)} rows sealed, {rows} now)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
