"""A disc's verdict (complete / partial / failed / refused, with the reason) from acquire's exit
code and result, and its pile (accept / reject) by the batch's rule."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

VERDICTS = ("complete", "partial", "failed", "refused")
PILES = ("accept", "reject")
# refused: acquire would not start on this disc (not the disc the queue or the record says, or
# its outputs cannot fit); failed: it started and could not finish
REFUSING_ERRORS = {"WrongDisc", "NotEnoughSpace", "UsageError"}
_TERM_RE = re.compile(r"^(complete|partial)(?:\s*<=\s*(\d+))?$")


@dataclass(frozen=True, slots=True)
class Rule:
    """Which verdicts go to the accept pile: complete always may; partial with at most N
    unreadable sectors (None: any number). `--accept complete,partial<=32`."""

    complete: bool = True
    partial_max: int | None = -1      # -1: partial discs are rejected

    def pile(self, verdict: str, unreadable: int | None) -> str:
        if verdict == "complete" and self.complete:
            return "accept"
        if verdict == "partial" and self.partial_max != -1:
            if self.partial_max is None or (unreadable is not None and unreadable <= self.partial_max):
                return "accept"
        return "reject"

    def __str__(self) -> str:
        terms = ["complete"] if self.complete else []
        if self.partial_max != -1:
            terms.append("partial" if self.partial_max is None else f"partial<={self.partial_max}")
        return ",".join(terms) or "nothing"


def parse_rule(text: str) -> Rule:
    complete, partial_max = False, -1
    for term in filter(None, (t.strip() for t in text.split(","))):
        m = _TERM_RE.match(term)
        if not m:
            raise UsageError(f"--accept {text!r}: {term!r} is not complete, partial or partial<=N",
                             hint="e.g. --accept complete,partial<=32 (failed and refused discs are always rejected)")
        if m.group(1) == "complete":
            complete = True
        else:
            partial_max = int(m.group(2)) if m.group(2) is not None else None
    return Rule(complete, partial_max)


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    reason: str


def from_result(exit_code: int | None, result: dict | None) -> Verdict:
    """The verdict of one acquisition from its exit code and the worker's result.json."""
    if result is None:
        return Verdict("failed", f"acquire ended without a result (exit {exit_code})")
    if "error" in result:
        kind = "refused" if result.get("error_type") in REFUSING_ERRORS else "failed"
        return Verdict(kind, result["error"])
    outcome = result["outcome"]
    if outcome["status"] == "complete":
        return Verdict("complete", "every sector read")
    if outcome["status"] == "partial":
        ranges = outcome["unreadable_ranges"]
        return Verdict("partial", f"{outcome['unreadable']} sectors unreadable in {len(ranges)} range(s)")
    return Verdict("failed", f"interrupted: {outcome.get('message') or 'stopped before the end'} (resumable)")
