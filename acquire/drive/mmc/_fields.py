"""Checks shared by the builders and parsers of every command family."""
from __future__ import annotations

from ...errors import MalformedResponse


def _check(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} {value!r} out of range {low}..{high}")
    return value


def _need(data: bytes, length: int, what: str) -> None:
    if len(data) < length:
        raise MalformedResponse(f"{what}: {len(data)} bytes, need at least {length}"
                                f" ({bytes(data[:16]).hex(' ') or 'empty'})")
