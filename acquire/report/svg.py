"""The two damage pictures, as SVG: a linear sector map (like ddrescueview) and the disc itself.

Both aggregate sectors into cells, so their size follows the cell count, never the sector count:
a 100 GB BD-XL draws in as many bytes as a CD. A cell shows the worst state of any sector in it
(bad > non-scraped > non-trimmed > untried > finished), as ddrescueview does: one bad sector is
never averaged away. Neighbouring cells of one state are drawn as one shape.

Each drawn shape carries data-* attributes (state, LBA range or ring and angle bins) so tests and
scripts can read the picture without rasterising it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from ..rescue.geometry import DISC_RADIUS_MM, HUB_RADIUS_MM, DiscLayout
from ..rescue.sectormap import State

# sector_map.state (docs/record.md) -> name, colour, severity (larger is worse)
UNTRIED, NON_TRIMMED, NON_SCRAPED, BAD, FINISHED, NOT_RECORDED = (int(s) for s in State)
STATE_NAMES = {UNTRIED: "untried", NON_TRIMMED: "non-trimmed", NON_SCRAPED: "non-scraped", BAD: "bad",
               FINISHED: "finished", NOT_RECORDED: "not-recorded"}
# ddrescueview's palette, darkened a little for print
STATE_COLOURS = {UNTRIED: "#9e9e9e", NON_TRIMMED: "#e0b000", NON_SCRAPED: "#3060c0", BAD: "#d01c1c",
                 FINISHED: "#2e9a48", NOT_RECORDED: "#cfd8dc"}
# not recorded is no damage: any other state in a cell outweighs it, and it outweighs finished
SEVERITY = {FINISHED: 0, NOT_RECORDED: 1, UNTRIED: 2, NON_TRIMMED: 3, NON_SCRAPED: 4, BAD: 5}
_BY_SEVERITY = {v: k for k, v in SEVERITY.items()}
LEGEND_ORDER = (FINISHED, BAD, NON_SCRAPED, NON_TRIMMED, UNTRIED, NOT_RECORDED)

LINEAR_COLUMNS = 100
LINEAR_MAX_ROWS = 60
LINEAR_CELL_PX = 6
DISC_RINGS = 40
DISC_BINS = 180        # 2 degrees each

Run = tuple[int, int, int]   # (start, count, state), as the record's sector_map stores it


def _fmt(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# --- linear map -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LinearCells:
    sectors: int
    columns: int
    rows: int
    sectors_per_cell: int
    worst: list[int]          # per cell: the worst sector_map state in it

    def cell_range(self, index: int) -> tuple[int, int]:
        first = index * self.sectors_per_cell
        return first, min(first + self.sectors_per_cell, self.sectors) - 1


def linear_cells(runs: Iterable[Run], sectors: int, *, columns: int = LINEAR_COLUMNS,
                 max_rows: int = LINEAR_MAX_ROWS) -> LinearCells:
    """Cells of `sectors_per_cell` consecutive sectors, `columns` to a row, at most `max_rows` rows."""
    sectors = max(int(sectors), 0)
    per_cell = max(1, math.ceil(sectors / (columns * max_rows))) if sectors else 1
    cells = math.ceil(sectors / per_cell) if sectors else 0
    rows = math.ceil(cells / columns) if cells else 0
    worst = [SEVERITY[FINISHED]] * cells
    for start, count, state in runs:
        if state == FINISHED or count <= 0:
            continue
        severity = SEVERITY[state]
        first, last = start // per_cell, min((start + count - 1) // per_cell, cells - 1)
        for i in range(first, last + 1):
            if worst[i] < severity:
                worst[i] = severity
    return LinearCells(sectors, columns, rows, per_cell, [_BY_SEVERITY[s] for s in worst])


@dataclass(frozen=True, slots=True)
class TrackStart:
    """Where a track begins on the map (the layout's tracks, layout_section.layout)."""
    number: int
    lba: int
    audio: bool


TRACK_COLOURS = {True: "#6a1b9a", False: "#111111"}     # audio, data


def linear_map_svg(runs: Iterable[Run], sectors: int, *, title: str = "Sector map",
                   tracks: Iterable[TrackStart] = ()) -> str:
    """The whole disc as rows of cells, LBA 0 top left, like ddrescueview; each of `tracks` a mark
    where it begins (at its LBA's place inside its cell), with its number."""
    cells = linear_cells(runs, sectors)
    tracks = [t for t in tracks if 0 <= t.lba < cells.sectors]
    px, label_w, top = LINEAR_CELL_PX, 84, 22
    width = label_w + cells.columns * px + 8
    grid_h = cells.rows * px
    legend_y = top + grid_h + 16
    height = legend_y + 20
    out = [_svg_open(width, height, "linear-map", title),
           f'<text x="0" y="14" class="t">{escape(title)}: {cells.sectors} sectors, '
           f'{cells.sectors_per_cell} per cell</text>']
    for row in range(cells.rows):
        y = top + row * px
        if row % 8 == 0 or row == cells.rows - 1:
            out.append(f'<text x="{label_w - 6}" y="{y + px}" class="l" text-anchor="end">'
                       f'{row * cells.columns * cells.sectors_per_cell}</text>')
        row_cells = cells.worst[row * cells.columns:(row + 1) * cells.columns]
        col = 0
        while col < len(row_cells):
            state, end = row_cells[col], col
            while end + 1 < len(row_cells) and row_cells[end + 1] == state:
                end += 1
            index0, index1 = row * cells.columns + col, row * cells.columns + end
            first, last = cells.cell_range(index0)[0], cells.cell_range(index1)[1]
            out.append(f'<rect x="{label_w + col * px}" y="{y}" width="{(end - col + 1) * px}" height="{px}" '
                       f'fill="{STATE_COLOURS[state]}" data-state="{STATE_NAMES[state]}" '
                       f'data-first="{first}" data-last="{last}"/>')
            col = end + 1
    out += _track_marks(cells, tracks, label_w, top, px)
    out.append(_legend(cells.worst, 0, legend_y, tracks=tracks))
    out.append("</svg>")
    return "\n".join(out)


def _track_marks(cells: LinearCells, tracks: list[TrackStart], left: float, top: float, px: int) -> list[str]:
    """A vertical mark over the row at each track's first LBA, its number above; a number is left out
    where it would overlap the one before (the mark stays, with its data-* attributes)."""
    out, last_label = [], (-1, -1e9)
    for t in sorted(tracks, key=lambda t: t.lba):
        at = t.lba / cells.sectors_per_cell
        row = int(at // cells.columns)
        x, y = left + (at - row * cells.columns) * px, top + row * px
        kind = "audio" if t.audio else "data"
        out.append(f'<line x1="{_fmt(x)}" y1="{_fmt(y - 2)}" x2="{_fmt(x)}" y2="{_fmt(y + px)}" '
                   f'stroke="{TRACK_COLOURS[t.audio]}" stroke-width="1.2" data-kind="track-start" '
                   f'data-track="{t.number}" data-lba="{t.lba}" data-track-kind="{kind}" data-row="{row}"/>')
        if last_label[0] != row or x - last_label[1] >= 12:
            out.append(f'<text x="{_fmt(x + 1)}" y="{_fmt(y - 2.5)}" font-size="7" fill="{TRACK_COLOURS[t.audio]}">'
                       f'{t.number}</text>')
            last_label = (row, x)
    return out


# --- disc map -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DiscCells:
    geometry: DiscLayout
    rings: int
    bins: int
    turns_per_ring: float
    worst: dict[tuple[int, int], int]   # (ring, bin) -> worst state; cells absent are finished

    def ring_radii(self, ring: int) -> tuple[float, float]:
        g = self.geometry
        return (g.r0_mm + ring * self.turns_per_ring * g.pitch_mm,
                g.r0_mm + (ring + 1) * self.turns_per_ring * g.pitch_mm)


def disc_cells(runs: Iterable[Run], geometry: DiscLayout, *, rings: int = DISC_RINGS,
               bins: int = DISC_BINS) -> DiscCells:
    """Polar cells: `rings` rings of equal width from the start radius to where the data ends,
    each cut into `bins` equal angles. A sector marks the cells its arc of the spiral crosses."""
    g = geometry
    total_turns = max(g.turns(min(g.capacity, g.layer_sectors)), 1e-9)
    per_ring = total_turns / rings
    worst: dict[tuple[int, int], int] = {}

    def mark(ring: int, first_bin: int, last_bin: int, severity: int) -> None:
        if last_bin - first_bin + 1 >= bins:
            first_bin, last_bin = 0, bins - 1
        for b in range(first_bin, last_bin + 1):
            key = (ring, b % bins)
            if worst.get(key, 0) < severity:
                worst[key] = severity

    for start, count, state in runs:
        if state == FINISHED or count <= 0:
            continue
        severity = SEVERITY[state]
        pos, end = start, start + count
        while pos < end:                                  # one piece per layer
            layer = min(pos // g.layer_sectors, g.layers - 1)
            piece_end = end if layer == g.layers - 1 else min(end, (layer + 1) * g.layer_sectors)
            j1, j2 = g.layer_position(pos)[1], g.layer_position(pos)[1] + (piece_end - pos)
            if layer % 2:
                j1, j2 = j1 - (piece_end - pos), j1
            t1, t2 = g.turns(j1), g.turns(j2)
            ring1 = min(int(t1 / per_ring), rings - 1)
            ring2 = min(int(t2 / per_ring), rings - 1)
            for ring in range(ring1, ring2 + 1):
                ta = max(t1, ring * per_ring)
                tb = min(t2, (ring + 1) * per_ring) if ring < rings - 1 else t2
                first = math.floor(ta * bins)
                last = max(first, math.ceil(tb * bins) - 1)
                mark(ring, first, last, severity)
            pos = piece_end
    return DiscCells(g, rings, bins, per_ring, {k: _BY_SEVERITY[v] for k, v in worst.items()})


def disc_map_svg(runs: Iterable[Run], geometry: DiscLayout, *, title: str = "Disc map") -> str:
    """The disc seen face on: each sector at its radius and angle on the nominal spiral (angle 0
    at 12 o'clock, the spiral turning clockwise). Finished data is the green annulus; other
    states are drawn over it cell by cell."""
    cells = disc_cells(runs, geometry)
    g = geometry
    size_px, margin = 420, 2.0
    half = DISC_RADIUS_MM + margin
    legend_mm = 14.0
    out = [_svg_open(size_px, round(size_px * (2 * half + legend_mm) / (2 * half)), "disc-map", title,
                     view_box=f"{_fmt(-half)} {_fmt(-half - legend_mm)} {_fmt(2 * half)} {_fmt(2 * half + legend_mm)}")]
    out.append(f'<text x="{_fmt(-half)}" y="{_fmt(-half - legend_mm + 4.5)}" style="font-size:4px">'
               f'{escape(title)}: {g.family.upper()}{" (assumed)" if g.assumed else ""}, {g.layers} layer'
               f'{"s" if g.layers > 1 else ""}, {cells.rings} rings x {cells.bins} angles</text>')
    out.append(f'<circle cx="0" cy="0" r="{_fmt(DISC_RADIUS_MM)}" fill="#eef0f3" stroke="#777" stroke-width="0.3"/>')
    inner, outer = g.r0_mm, g.outer_radius_mm
    mid = (inner + outer) / 2
    out.append(f'<circle cx="0" cy="0" r="{_fmt(mid)}" fill="none" stroke="{STATE_COLOURS[FINISHED]}" '
               f'stroke-width="{_fmt(outer - inner)}" data-state="finished-background"/>')
    for ring in range(cells.rings):
        r_in, r_out = cells.ring_radii(ring)
        b = 0
        while b < cells.bins:
            state = cells.worst.get((ring, b), FINISHED)
            e = b
            while e + 1 < cells.bins and cells.worst.get((ring, e + 1), FINISHED) == state:
                e += 1
            if state != FINISHED:
                out.append(_annular_sector(r_in, r_out, b / cells.bins, (e + 1) / cells.bins, state, ring, b, e))
            b = e + 1
    out.append(f'<circle cx="0" cy="0" r="{_fmt(HUB_RADIUS_MM)}" fill="#ffffff" stroke="#777" stroke-width="0.3"/>')
    out.append(f'<line x1="0" y1="{_fmt(-inner)}" x2="0" y2="{_fmt(-DISC_RADIUS_MM)}" stroke="#555" '
               f'stroke-width="0.15" stroke-dasharray="1 1"/>')
    out.append(_legend(list(cells.worst.values()), -half, -half - legend_mm + 6, scale=0.26))
    out.append("</svg>")
    return "\n".join(out)


def _annular_sector(r_in: float, r_out: float, a0: float, a1: float, state: int, ring: int,
                    first_bin: int, last_bin: int) -> str:
    data = f'data-state="{STATE_NAMES[state]}" data-ring="{ring}" data-bins="{first_bin}-{last_bin}"'
    if a1 - a0 >= 1.0:                                    # a whole ring
        return (f'<circle cx="0" cy="0" r="{_fmt((r_in + r_out) / 2)}" fill="none" '
                f'stroke="{STATE_COLOURS[state]}" stroke-width="{_fmt(r_out - r_in)}" {data}/>')

    def point(r: float, a: float) -> str:
        theta = 2 * math.pi * a                          # clockwise from 12 o'clock
        return f"{_fmt(r * math.sin(theta))} {_fmt(-r * math.cos(theta))}"

    large = 1 if a1 - a0 > 0.5 else 0
    d = (f"M{point(r_out, a0)} A{_fmt(r_out)} {_fmt(r_out)} 0 {large} 1 {point(r_out, a1)} "
         f"L{point(r_in, a1)} A{_fmt(r_in)} {_fmt(r_in)} 0 {large} 0 {point(r_in, a0)}Z")
    return f'<path d="{d}" fill="{STATE_COLOURS[state]}" {data}/>'


# --- shared ---------------------------------------------------------------------------------------

def _svg_open(width: int, height: int, kind: str, title: str, *, view_box: str | None = None) -> str:
    vb = view_box or f"0 0 {width} {height}"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{kind}" data-map="{kind}" width="{width}" '
            f'height="{height}" viewBox="{vb}" role="img" aria-label="{escape(title)}" '
            f'font-family="Helvetica, Arial, sans-serif">'
            f'<title>{escape(title)}</title>'
            '<style>.t{font-size:12px;fill:#222}.l{font-size:9px;fill:#555}</style>')


def _legend(states: list[int], x: float, y: float, *, scale: float = 1.0, tracks: list[TrackStart] = ()) -> str:
    present = set(states) | {FINISHED}
    parts, pos = [], x
    for audio in (False, True):
        if any(t.audio == audio for t in tracks):
            label = f"{'audio' if audio else 'data'} track start"
            parts.append(f'<line x1="{_fmt(pos + 3)}" y1="{_fmt(y)}" x2="{_fmt(pos + 3)}" y2="{_fmt(y + 10)}" '
                         f'stroke="{TRACK_COLOURS[audio]}" stroke-width="1.5"/>'
                         f'<text x="{_fmt(pos + 8)}" y="{_fmt(y + 9)}" font-size="11" fill="#222">{label}</text>')
            pos += 8 + len(label) * 6.5 + 12
    for state in LEGEND_ORDER:
        if state not in present:
            continue
        box, gap = 10 * scale, 4 * scale
        label = STATE_NAMES[state]
        parts.append(f'<rect x="{_fmt(pos)}" y="{_fmt(y)}" width="{_fmt(box)}" height="{_fmt(box)}" '
                     f'fill="{STATE_COLOURS[state]}"/>'
                     f'<text x="{_fmt(pos + box + gap)}" y="{_fmt(y + box * 0.9)}" '
                     f'font-size="{_fmt(11 * scale)}" fill="#222">{label}</text>')
        pos += box + gap + len(label) * 6.5 * scale + 3 * gap
    return f'<g class="legend">{"".join(parts)}</g>'


def report_maps(report: dict) -> tuple[str, str] | None:
    """The linear and the disc map of a report (model.build); None when it has no map or medium."""
    medium, smap = report["medium"], report["map"]
    if not medium.get("known") or not smap["runs"] or not medium.get("capacity"):
        return None
    g = medium["geometry"]
    geometry = DiscLayout.for_medium(g["family"], medium["capacity"], assumed=g["assumed"])
    runs = [tuple(r) for r in smap["runs"]]
    return (linear_map_svg(runs, medium["capacity"], title="Sector map", tracks=track_starts(report)),
            disc_map_svg(runs, geometry, title="Disc map"))


def track_starts(report: dict, *, first: int = 0, end: int | None = None) -> list[TrackStart]:
    """The layout's tracks (report "layout", layout_section.layout) that begin in [first, end), at
    LBAs counted from `first`; none for a disc of one track, whose map needs no mark."""
    lay = report.get("layout") or {}
    tracks = lay.get("tracks") or [] if lay.get("known") else []
    if len(tracks) < 2:
        return []
    return [TrackStart(t["track"], t["start"] - first, bool(t["audio"])) for t in tracks
            if first <= t["start"] and (end is None or t["start"] < end)]
