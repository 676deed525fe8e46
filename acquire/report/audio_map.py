"""Audio damage by time, as SVG: one strip per audio track (track 0: the hidden track one audio) on
a mm:ss axis, 75 sectors of 588 samples a second (docs/reports.md "The pictures").

A strip's upper lane draws the record's unresolved samples (the "Unresolved samples" table's runs,
audio_damage), its lower lane the track's sectors the sector map calls neither finished nor not
recorded. An audio track's sectors are not recorded in the ISO by design (layout kind "audio"), so
that lane is empty for every record whose audio step ran; an older or an interrupted record may hold
untried or bad sectors there. Like svg.py's maps, samples are aggregated into at most STRIP_CELLS
cells a track, each showing its worst reason or state, and neighbouring cells alike are one shape:
the picture's size follows the cell count (at most 100 tracks of STRIP_CELLS cells), never the
sample count. Every shape carries data-track and the exact first/last sample (or LBA) of what it
holds, so tests read the picture without rasterising it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from ..audio.rip import SAMPLES, sample_time
from .svg import SEVERITY, STATE_COLOURS, STATE_NAMES, _fmt, _svg_open

FRAMES_PER_S = 75
STRIP_CELLS = 300
STRIP_PX = 600                     # the axis of every track, whatever its length
LABEL_PX, TOP_PX = 118, 24
DAMAGE_LANE_PX, SECTOR_LANE_PX, ROW_PX = 12, 5, 34
# why a sample stayed unresolved (audio/rip.py) -> colour, severity (larger is worse): a sample the
# drive could not deliver outweighs one it delivered differently, and a drive limit (no overread) least
REASON_COLOURS = {"unreadable": "#d01c1c", "mismatch": "#e65100", "c2": "#8e24aa", "not-overread": "#78909c"}
REASON_SEVERITY = {"not-overread": 1, "c2": 2, "mismatch": 3, "unreadable": 4}
_PENDING = {state for state in STATE_NAMES if STATE_NAMES[state] not in ("finished", "not-recorded")}
TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200)
MAX_TICKS = 8


@dataclass(frozen=True, slots=True)
class Shape:
    """Neighbouring cells of one kind: cells [first_cell, last_cell], the exact first and last unit
    (sample or LBA) of what is in them, and how many units."""
    kind: str
    first_cell: int
    last_cell: int
    first: int
    last: int
    units: int


def cell_shapes(spans, total: int, per_cell: int, severity: dict[str, int], scale: int = 1) -> list[Shape]:
    """`spans`: (first, last, kind) of units (samples, or LBAs `scale` samples each) over an axis of
    `total` samples cut into cells of `per_cell`; each cell takes the worst kind in it."""
    cells: dict[int, list] = {}                     # cell -> [kind, first, last, units]
    for first, last, kind in spans:
        first, last = max(first, 0), min(last, (total - 1) // scale)
        if last < first:
            continue
        for cell in range(first * scale // per_cell, (last * scale + scale - 1) // per_cell + 1):
            lo = max(first, cell * per_cell // scale)              # the units overlapping the cell
            hi = min(last, ((cell + 1) * per_cell - 1) // scale)
            counted = max(0, hi - max(first, -(-cell * per_cell // scale)) + 1)   # those starting in it
            held = cells.setdefault(cell, [kind, lo, hi, 0])
            if severity[kind] > severity[held[0]]:
                held[0] = kind
            held[1], held[2], held[3] = min(held[1], lo), max(held[2], hi), held[3] + counted
    shapes: list[Shape] = []
    for cell in sorted(cells):
        kind, lo, hi, units = cells[cell]
        if shapes and shapes[-1].last_cell == cell - 1 and shapes[-1].kind == kind:
            s = shapes[-1]
            shapes[-1] = Shape(kind, s.first_cell, cell, min(s.first, lo), max(s.last, hi), s.units + units)
        else:
            shapes.append(Shape(kind, cell, cell, lo, hi, units))
    return shapes


def per_cell(samples: int) -> int:
    return max(1, math.ceil(samples / STRIP_CELLS))


def audio_map_svg(tracks: list[dict], damage: list[dict], runs, *, title: str = "Audio tracks by time") -> str:
    """`tracks`: the record's audio_tracks rows (track, start, end); `damage`: its audio_damage rows
    (track, first_sample, last_sample, reason); `runs`: the sector map's (start, count, state)."""
    width = LABEL_PX + STRIP_PX + 12
    height = TOP_PX + ROW_PX * len(tracks) + 24
    out = [_svg_open(width, height, "audio-map", title),
           f'<text x="0" y="14" class="t">{escape(title)}: {len(tracks)} track(s), at most {STRIP_CELLS} cells '
           f'each; time within the track (mm:ss)</text>']
    for row, t in enumerate(sorted(tracks, key=lambda t: t["start"])):
        out += _strip(t, [d for d in damage if d["track"] == t["track"]], runs, TOP_PX + row * ROW_PX)
    out.append(_legend(damage, runs, tracks, TOP_PX + ROW_PX * len(tracks) + 6))
    out.append("</svg>")
    return "\n".join(out)


def _strip(track: dict, damage: list[dict], runs, y: float) -> list[str]:
    number, start, end = track["track"], track["start"], track["end"]
    samples = (end - start) * SAMPLES
    step = per_cell(samples)
    x0, scale = LABEL_PX, STRIP_PX / samples if samples else 0.0

    def x(sample: float) -> str:
        return _fmt(x0 + sample * scale)

    name = "0 (HTOA)" if number == 0 else str(number)
    out = [f'<text x="{LABEL_PX - 6}" y="{_fmt(y + DAMAGE_LANE_PX - 2)}" class="l" text-anchor="end">track {name}, '
           f'{sample_time(samples)}</text>',
           f'<rect x="{x0}" y="{_fmt(y)}" width="{STRIP_PX}" height="{DAMAGE_LANE_PX}" fill="#e8f5e9" stroke="#9e9e9e" '
           f'stroke-width="0.5" data-kind="track" data-track="{number}" data-samples="{samples}" '
           f'data-first-lba="{start}" data-last-lba="{end - 1}" '
           f'data-cells="{math.ceil(samples / step) if samples else 0}"/>']
    spans = [(d["first_sample"], d["last_sample"], d["reason"]) for d in damage]
    for s in cell_shapes(spans, samples, step, REASON_SEVERITY):
        a, b = s.first_cell * step, min((s.last_cell + 1) * step, samples)
        out.append(f'<rect x="{x(a)}" y="{_fmt(y)}" width="{_fmt((b - a) * scale)}" height="{DAMAGE_LANE_PX}" '
                   f'fill="{REASON_COLOURS.get(s.kind, "#d01c1c")}" data-kind="unresolved" data-track="{number}" '
                   f'data-reason="{s.kind}" data-first-sample="{s.first}" data-last-sample="{s.last}" '
                   f'data-samples="{s.units}" data-first-time="{sample_time(s.first)}" '
                   f'data-last-time="{sample_time(s.last)}"/>')
    lane = y + DAMAGE_LANE_PX + 1
    pending = [(max(a, start) - start, min(a + c, end) - 1 - start, STATE_NAMES[state])
               for a, c, state in runs if state in _PENDING and a < end and a + c > start]
    severity = {STATE_NAMES[k]: v for k, v in SEVERITY.items()}
    colour = {STATE_NAMES[k]: v for k, v in STATE_COLOURS.items()}
    for s in cell_shapes(pending, samples, step, severity, scale=SAMPLES):
        a, b = s.first_cell * step, min((s.last_cell + 1) * step, samples)
        out.append(f'<rect x="{x(a)}" y="{_fmt(lane)}" width="{_fmt((b - a) * scale)}" height="{SECTOR_LANE_PX}" '
                   f'fill="{colour[s.kind]}" data-kind="sectors" data-track="{number}" data-state="{s.kind}" '
                   f'data-first-lba="{start + s.first}" data-last-lba="{start + s.last}" data-sectors="{s.units}" '
                   f'data-first-time="{sample_time(s.first * SAMPLES)}"/>')
    out += _ticks(samples, x, lane + SECTOR_LANE_PX)
    return out


def _ticks(samples: int, x, y: float) -> list[str]:
    seconds = samples / (SAMPLES * FRAMES_PER_S)
    step = next((s for s in TICK_STEPS_S if seconds / s <= MAX_TICKS), TICK_STEPS_S[-1])
    out = []
    for k in range(int(seconds // step) + 1):
        at = x(k * step * FRAMES_PER_S * SAMPLES)
        out.append(f'<line x1="{at}" y1="{_fmt(y)}" x2="{at}" y2="{_fmt(y + 3)}" stroke="#555" stroke-width="0.5"/>'
                   f'<text x="{at}" y="{_fmt(y + 11)}" class="l" text-anchor="middle">'
                   f'{k * step // 60:02d}:{k * step % 60:02d}</text>')
    return out


def _legend(damage: list[dict], runs, tracks: list[dict], y: float) -> str:
    reasons = [r for r in REASON_SEVERITY if any(d["reason"] == r for d in damage)]
    parts, pos = [], 0.0
    for reason in reversed(reasons):
        parts.append(f'<rect x="{_fmt(pos)}" y="{_fmt(y)}" width="10" height="10" fill="{REASON_COLOURS[reason]}"/>'
                     f'<text x="{_fmt(pos + 14)}" y="{_fmt(y + 9)}" font-size="11" fill="#222">{reason}</text>')
        pos += 14 + len(reason) * 6.5 + 12
    text = ("unresolved samples, by why (upper lane); sectors the map calls pending (lower lane)" if reasons
            else "every sample resolved")
    parts.append(f'<text x="{_fmt(pos)}" y="{_fmt(y + 9)}" font-size="11" fill="#222">{escape(text)}</text>')
    return f'<g class="legend">{"".join(parts)}</g>'


def report_audio_map(report: dict) -> str | None:
    """The audio strips of a report (model.build); None without audio tracks."""
    audio = report.get("audio")
    if not audio or not audio.get("tracks"):
        return None
    return audio_map_svg(audio["tracks"], audio["damage"], [tuple(r) for r in report["map"]["runs"]])
