"""`acquire audit`: every image and record of a collection re-verified, in parallel across cores and disks.

Each record goes through verify.verify (every hash, the chain, the seal, the signature) with nothing
of that duplicated here; the result is appended to the record as a chained 'audit' event and a seal
(verify.record_result, the rule verify itself follows: only to an intact record), then to the
catalogue, then to the resumable state. Records are handed to a pool of `workers` threads, at most
`per_disk` at once on one device (st_dev), taken round-robin across devices so that every disk is
read at once; the hashing inside each one is itself threaded (acquire/hashing.py).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..catalogue import Catalogue, derive, find_records, is_postgres
from ..errors import AcquireError, CatalogueError, Interrupted, UsageError
from ..record import Record
from ..verify import record_result, verify
from .changes import changes, gone
from .state import STATE_NAME, AuditState, utc_now

EVENT = "audit"
MAX_DETAILS = 10
# catalogue columns an audit may legitimately move (its own event and seal) or that say where, not what
UNCOMPARED = {"record_path", "image_path", "chain_head", "sealed_utc", "registered_utc", "registered_host",
              "last_audit_utc", "last_audit_ok"}


@dataclass
class Target:
    records: list[Path]
    catalogue: str | None
    state: Path


@dataclass
class AuditReport:
    audit_id: str
    target: str
    results: dict[str, dict]
    changes: list[str]
    resumed: int = 0                       # records finished by an earlier, interrupted invocation
    bytes: int = 0
    elapsed_s: float = 0.0
    state: Path | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_json(self) -> dict:
        return {"audit_id": self.audit_id, "target": self.target, "ok": self.ok, "records": len(self.results),
                "failed": self.failed, "resumed": self.resumed, "bytes": self.bytes, "elapsed_s": self.elapsed_s,
                "changes": self.changes, "state": str(self.state) if self.state else None,
                "results": self.results}


def resolve(target: str, catalogue: str | None = None, state: Path | None = None) -> Target:
    """What to audit: a directory's records, a catalogue's (a SQLite file or a PostgreSQL URL), or one record."""
    if is_postgres(target) or _is_catalogue_file(target):
        with Catalogue.open(target, create=False) as opened:
            records = [Path(d["record_path"]) for d in opened.discs()]
        default_state = Path(f"{target}.audit.json") if not is_postgres(target) else Path(STATE_NAME)
        return Target(records, target, state or default_state)
    path = Path(target)
    if path.is_dir():
        return Target(find_records([path]), catalogue, state or path / STATE_NAME)
    if path.is_file():
        return Target(find_records([path]), catalogue, state or path.with_name(STATE_NAME))
    raise UsageError(f"nothing to audit at {target}", hint="name a directory of records, a catalogue or a record")


def _is_catalogue_file(target: str) -> bool:
    path = Path(target)
    if not path.is_file() or path.name.endswith(".custody.sqlite"):
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'discs'").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def run_audit(target: str, *, catalogue: str | None = None, state_path: Path | None = None,
              workers: int | None = None, per_disk: int = 2, record: bool = True, progress=None,
              on_result: Callable[[str, dict], None] | None = None) -> AuditReport:
    """Audit `target`; `progress` gets start(files, bytes), advance(bytes) and file_done(record, result)."""
    started = time.monotonic()
    where = resolve(target, catalogue, state_path)
    state = AuditState.load(where.state, target)
    done = dict(state.done)
    todo = [r for r in where.records if str(r) not in done]
    sizes = {str(r): _image_size(r) for r in where.records}
    opened = Catalogue.open(where.catalogue) if where.catalogue else None
    if progress is not None:
        progress.start(len(where.records), sum(sizes.values()), done=len(done),
                       done_bytes=sum(sizes[r] for r in done if r in sizes))
    try:
        _run(todo, state, opened, workers or os.cpu_count() or 2, per_disk, record, progress, on_result)
    except KeyboardInterrupt as exc:
        finished = len(state.done)
        raise Interrupted(f"audit {state.audit_id} interrupted with {finished} of {len(where.records)} records done",
                          hint=f"run the same command again to resume (state in {where.state})") from exc
    finally:
        if opened is not None:
            opened.close()
    results = dict(state.done)
    lines = [line for r in sorted(results) for line in results[r].get("changes", [])]
    lines += gone(state.last, set(results))
    state.finish()
    return AuditReport(state.last["audit_id"], target, results, lines, resumed=len(done),
                       bytes=sum(sizes[r] for r in results if r in sizes), elapsed_s=time.monotonic() - started,
                       state=where.state, failed=sorted(r for r, v in results.items() if not v["ok"]))


def _run(todo: list[Path], state: AuditState, catalogue: Catalogue | None, workers: int, per_disk: int,
         record: bool, progress, on_result) -> None:
    """The pool; results are taken in this (the calling) thread, which alone writes the catalogue and state."""
    gates: dict[int, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(per_disk))
    order = _round_robin(todo)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="audit")
    try:
        pending = {pool.submit(_audit_one, path, gates[_device(path)], state.audit_id, record, progress): path
                   for path in order}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                path = pending.pop(future)
                _take(path, future.result(), state, catalogue)
                if progress is not None:
                    progress.file_done(str(path), state.done[str(path)])
                if on_result is not None:
                    on_result(str(path), state.done[str(path)])
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        for future, path in pending.items():     # the records in flight when it stopped: recorded, so kept
            if future.done() and not future.cancelled() and future.exception() is None:
                _take(path, future.result(), state, catalogue)
        raise
    pool.shutdown(wait=True)


def _take(path: Path, result: dict, state: AuditState, catalogue: Catalogue | None) -> None:
    result["changes"] = changes(str(path), result, state.baseline(str(path)))
    if catalogue is not None:
        result["catalogue"] = _catalogue(catalogue, path, result, state.audit_id)
    state.put(str(path), result)


def _audit_one(path: Path, gate: threading.Semaphore, audit_id: str, record: bool, progress) -> dict:
    """One record: verify (no record yet), then the 'audit' event and seal; a dict of plain values."""
    advance = progress.advance if progress is not None else None
    earlier = _already_recorded(path, audit_id)
    if earlier is not None:                 # killed after the record's event, before the state was saved
        return earlier
    with gate:
        try:
            result = verify(path, record_result=False, progress=advance)
        except AcquireError as exc:         # not a record, missing, unreadable: a finding, not a stop
            return {"ok": False, "time_utc": utc_now(), "record_id": None, "head": None, "recorded": "",
                    "image": None, "checks": {"open": {"ok": False, "summary": str(exc), "details": []}}}
    recorded = record_result(result, kind=EVENT, audit_id=audit_id) if record else "not recorded (--no-record)"
    return {"ok": result.ok, "time_utc": utc_now(), "image": str(result.image), "recorded": recorded,
            "record_id": _record_id(path), "head": _head(path),
            "checks": {c.name: {"ok": c.ok, "summary": c.summary, "details": c.details[:MAX_DETAILS]}
                       for c in result.checks}}


def _already_recorded(path: Path, audit_id: str) -> dict | None:
    """This audit's result as the record's own 'audit' event holds it (summaries, no details), if any."""
    try:
        record = Record.open_readonly(path)
    except AcquireError:
        return None
    try:
        row = record.db.conn.execute("SELECT details_json FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1",
                                     (EVENT,)).fetchone()
    finally:
        record.close()
    details = json.loads(row[0]) if row else {}
    if details.get("audit_id") != audit_id:
        return None
    # the event holds each check's summary and the overall verdict, not each check's own
    checks = {name: {"ok": details["ok"], "summary": summary, "details": []}
              for name, summary in details["checks"].items()}
    return {"ok": details["ok"], "time_utc": utc_now(), "image": None, "record_id": _record_id(path),
            "head": _head(path), "recorded": "recorded before the interruption", "checks": checks}


def _catalogue(catalogue: Catalogue, path: Path, result: dict, audit_id: str) -> str:
    """The audit's row in the catalogue, after the catalogue's own row is checked against the record."""
    row = catalogue.disc(result["record_id"]) if result["record_id"] else None
    check = {"ok": True, "summary": "the catalogue row matches the record", "details": []}
    if row is None:
        check = {"ok": False, "summary": "not in the catalogue (register it with acquire catalogue add)", "details": []}
    elif result["checks"].get("record", {}).get("ok"):
        try:
            derived = derive(path).disc
            differ = sorted(k for k, v in derived.items() if k not in UNCOMPARED and row.get(k) != v)
        except CatalogueError as exc:
            differ, check = [], {"ok": False, "summary": str(exc), "details": []}
        if differ:
            check = {"ok": False, "summary": f"the catalogue row differs from the record in {', '.join(differ)}",
                     "details": [f"{k}: catalogue {row.get(k)!r}, record {derived[k]!r}" for k in differ]}
    result["checks"]["catalogue"] = check
    result["ok"] = result["ok"] and check["ok"]
    summary = "; ".join(f"{n}: {c['summary']}" for n, c in result["checks"].items() if not c["ok"]) or "every check passed"
    catalogue.add_audit(audit_id, result["record_id"], str(path), result["ok"], summary, result["changes"],
                        result["head"])
    return "recorded in the catalogue"


def _round_robin(paths: list[Path]) -> list[Path]:
    """One record of each device in turn, so that the pool reads every disk at once."""
    groups: dict[int, list[Path]] = defaultdict(list)
    for p in paths:
        groups[_device(p)].append(p)
    queues = list(groups.values())
    out = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _device(path: Path) -> int:
    try:
        return os.stat(path).st_dev
    except OSError:
        return -1


def _image_size(record_path: Path) -> int:
    name = record_path.name
    image = record_path.with_name(name[: -len(".custody.sqlite")]) if name.endswith(".custody.sqlite") else record_path
    try:
        return image.stat().st_size
    except OSError:
        return 0


def _record_id(path: Path) -> str | None:
    return _read(path, "SELECT hash FROM events WHERE id = 1")


def _head(path: Path) -> str | None:
    return _read(path, "SELECT hash FROM events ORDER BY id DESC LIMIT 1")


def _read(path: Path, sql: str) -> str | None:
    try:
        record = Record.open_readonly(path)
    except AcquireError:
        return None
    try:
        row = record.db.conn.execute(sql).fetchone()
        return row[0] if row else None
    finally:
        record.close()


__all__ = ["AuditReport", "Target", "resolve", "run_audit"]
