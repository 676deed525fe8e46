"""The audit's resumable state: one JSON file, rewritten durably after every record it finishes.

    {"format": "acquire-audit-state/1",
     "current": {"audit_id": "...", "started_utc": "...", "target": "...", "results": {RECORD: result}},
     "last":    {... the latest finished audit, the same shape ...}}

`current` is an audit in progress: running the same command again skips its finished records. When
an audit ends it becomes `last`, the baseline the next audit's "what changed" is measured against.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..durable import write_durably
from ..errors import UsageError

FORMAT = "acquire-audit-state/1"
STATE_NAME = ".acquire-audit.json"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_audit_id() -> str:
    return f"audit-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class AuditState:
    path: Path
    current: dict | None = None
    last: dict | None = None
    resumed: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, target: str) -> AuditState:
        """The state at `path` (a new audit begins unless one for the same target is in progress)."""
        state = cls(Path(path))
        if state.path.exists():
            try:
                data = json.loads(state.path.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read the audit state {path} ({exc})",
                                 hint="move it aside to start afresh (the next audit then has no baseline)") from exc
            if data.get("format") != FORMAT:
                raise UsageError(f"{path} is not an acquire audit state")
            state.current, state.last = data.get("current"), data.get("last")
        if state.current is not None and state.current.get("target") == target:
            state.resumed = True
        else:
            state.current = {"audit_id": new_audit_id(), "started_utc": utc_now(), "target": target, "results": {}}
        return state

    @property
    def audit_id(self) -> str:
        return self.current["audit_id"]

    @property
    def done(self) -> dict[str, dict]:
        return self.current["results"]

    def baseline(self, record: str) -> dict | None:
        return (self.last or {}).get("results", {}).get(record)

    def put(self, record: str, result: dict) -> None:
        self.current["results"][record] = result
        self.save()

    def finish(self) -> None:
        self.current["ended_utc"] = utc_now()
        self.last, self.current = self.current, None
        self.save()

    def save(self) -> None:
        write_durably(self.path, json.dumps({"format": FORMAT, "current": self.current, "last": self.last},
                                            indent=1, sort_keys=True) + "\n")
