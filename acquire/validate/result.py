"""One validate check's result: what the record keeps (a chained 'validation' event) and every report shows."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("pass", "fail", "skipped", "booted", "not bootable", "damaged", "no result")
EVENT = "validation"


@dataclass
class Check:
    name: str                               # 'readers', 'mount', 'boot cd bios entry 1', ...
    outcome: str                            # one of OUTCOMES
    ok: bool                                # False: the image does not work as its users will use it
    summary: str                            # the one line printed and reported
    figures: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        mark = {"skipped": "SKIP"}.get(self.outcome, "PASS" if self.ok else "FAIL")
        return f"{mark} {self.name}: {self.summary}"

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "outcome": self.outcome, "ok": self.ok, "summary": self.summary,
                "figures": self.figures, "details": self.details}
