"""The disc's recorded layout in a report: sessions, tracks, what is not recorded, every size the
drive gave and their disagreements, and the map per session (docs/reports.md "Layout").

Kept apart from model.py and sections.py so the layout's report parts live in one place:
`layout(record, runs)` is the report dict's "layout" key, `layout_section(report)` its table
section for HTML and Markdown, `session_maps(report)` the per-session SVG maps of the HTML page.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..record import Record
from ..record.layout_tables import load_layout
from ..rescue.sectormap import State
from .svg import STATE_NAMES, linear_map_svg, track_starts

_PENDING = (State.UNTRIED, State.NON_TRIMMED, State.NON_SCRAPED, State.BAD)


def layout(record: Record, runs: list[tuple[int, int, int]]) -> dict[str, Any]:
    """The stored layout with each session's map counts and unreadable ranges; {"known": False}
    for a record made before layouts were recorded."""
    stored = load_layout(record)
    if stored is None:
        return {"known": False}
    for session in stored["sessions"]:
        counts: Counter = Counter()
        bad: list[list[int]] = []
        for start, count, state in _clipped(runs, session["start"], session["end"]):
            counts[STATE_NAMES[state]] += count
            if state in _PENDING:
                bad.append([start, start + count - 1])
        session["counts"] = dict(counts)
        session["unreadable_ranges"] = bad
    return {"known": True, **stored}


def _clipped(runs, start: int, end: int):
    for s, c, state in runs:
        a, b = max(s, start), min(s + c, end)
        if a < b:
            yield a, b - a, state


def layout_section(report: dict) -> tuple[str, list[str], list]:
    lay = report.get("layout") or {"known": False}
    if not lay.get("known"):
        return ("Layout", ["no recorded layout in this record (made before layouts were recorded)"], [])
    nr = lay["not_recorded"]
    lines = [f"{len(lay['sessions'])} session(s), {len(lay['tracks'])} track(s); "
             f"{sum(n['count'] for n in nr)} sectors not recorded (holding no data by design: neither read nor "
             f"damaged, zero in the image); READ CAPACITY {lay['capacity']}, image {lay['sectors']} sectors"
             + ("; the disc is appendable" if lay.get("appendable") else "") + "."]
    lines += [f"Disagreement: {m}" for m in lay["disagreements"]]
    sessions = [[str(x["session"]), str(x["start"]), str(x["end"] - 1), ", ".join(map(str, x["tracks"])),
                 str(x["counts"].get("finished", 0)), str(x["counts"].get("not-recorded", 0)),
                 _ranges(x["unreadable_ranges"])] for x in lay["sessions"]]
    tracks = [[str(t["track"]), str(t["session"]), str(t["start"]), str(t["end"] - 1),
               "audio" if t["audio"] else f"data (mode {t['data_mode'] or '?'})", t["source"]] for t in lay["tracks"]]
    gaps = [[str(n["start"]), str(n["start"] + n["count"] - 1), str(n["count"]), n["kind"], n["why"]] for n in nr]
    figures = [[k, str(v)] for k, v in sorted(lay["figures"].items())]
    responses = [[r.get("name") or "-", r["command"], str(r["bytes"]), r["sha256"], _summary(r.get("parsed"))]
                 for r in lay.get("responses", [])]
    tables = [("Sessions (map per session)", ["session", "first LBA", "last LBA", "tracks", "finished",
                                              "not recorded", "unreadable ranges"], sessions),
              ("Tracks", ["track", "session", "first LBA", "last LBA", "kind", "from"], tracks),
              ("Not recorded", ["first LBA", "last LBA", "sectors", "kind", "why"], gaps or [["-", "-", "0", "-", "-"]]),
              ("Figures the drive and the file systems gave", ["figure", "value"], figures)]
    if responses:
        tables.append(("Drive answers and disc structures kept in the record (raw bytes, sealed)",
                       ["structure", "command", "bytes", "sha256", "parsed"], responses))
    return ("Layout", lines, tables)


def _summary(parsed, limit: int = 160) -> str:
    if parsed is None:
        return "-"
    text = ", ".join(f"{k} {v}" for k, v in parsed.items()) if isinstance(parsed, dict) else str(parsed)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _ranges(pairs: list[list[int]], limit: int = 20) -> str:
    shown = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in pairs[:limit])
    return (shown + (f" ... ({len(pairs)} ranges)" if len(pairs) > limit else "")) if pairs else "none"


def session_maps(report: dict) -> list[str]:
    """One linear SVG map per session of a multisession disc (LBAs of that session only)."""
    lay = report.get("layout") or {}
    if not lay.get("known") or len(lay["sessions"]) < 2:
        return []
    runs = [tuple(r) for r in report["map"]["runs"]]
    out = []
    for x in lay["sessions"]:
        mine = [(a - x["start"], c, state) for a, c, state in _clipped(runs, x["start"], x["end"])]
        out.append(linear_map_svg(mine, x["end"] - x["start"],
                                  title=f"Session {x['session']}: LBA {x['start']}-{x['end'] - 1}",
                                  tracks=track_starts(report, first=x["start"], end=x["end"])))
    return out
