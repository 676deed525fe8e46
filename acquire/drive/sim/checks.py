"""Checks every part of the simulated drive's profile loader shares: one ProfileError line naming the
table and the key (profile.py, tracks.py)."""
from __future__ import annotations

from typing import Any

MAKE_FIXTURES_HINT = ("check the path (relative to the profile); the fixture images are made by "
                      "`python fixtures/make_fixtures.py`")


def _table(fail, doc: dict, name: str) -> dict:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise fail(f"{name} must be a [{name}] table")
    return value


def _no_unknown(fail, table: dict, known: set[str], label: str) -> None:
    for key in table:
        if key not in known:
            raise fail(f"{label} has unknown key {key!r}", hint=f"known keys: {', '.join(sorted(known))}")


def _tables(fail, entries: Any, name: str, keys, required: tuple[str, ...]):
    """(position, label, table) of each [[name]] table, once it has only known keys and every
    required one."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise fail(f"{name} must be a list of [[{name}]] tables")
    for position, entry in enumerate(entries, 1):
        label = f"[[{name}]] #{position}"
        _no_unknown(fail, entry, keys, label)
        for key in required:
            if key not in entry:
                raise fail(f"{label} has no {key}")
        yield position, label, entry


def _get(fail, table: dict, key: str, kind: type, label: str) -> Any:
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise fail(f"{label} {key} must be {names[kind]}, not {value!r}")
    return value
