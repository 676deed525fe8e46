"""The HTML report: one self-contained, print-ready page (inline CSS and SVG, nothing fetched)."""
from __future__ import annotations

from html import escape

from . import validation
from .audio_map import report_audio_map
from .layout_section import session_maps
from .sections import sections, title_of
from .svg import report_maps

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 13px/1.4 Helvetica, Arial, sans-serif; color: #1a1a1a; background: #fff; margin: 18px; max-width: 1160px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 6px; border-bottom: 1px solid #bbb; }
h3 { font-size: 13px; margin: 12px 0 4px; } p { margin: 4px 0; }
.status { padding: 8px 12px; border-radius: 4px; font-weight: bold; margin: 10px 0; }
.ok { background: #dff3e4; border: 1px solid #2e9a48; } .bad { background: #fbe0e0; border: 1px solid #d01c1c; }
.warn { background: #fff4d6; border: 1px solid #e0b000; }
table { border-collapse: collapse; margin: 4px 0 10px; width: 100%; page-break-inside: auto; }
tr { page-break-inside: avoid; } th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td { word-break: break-word; } .mono, td code { font-family: Menlo, Consolas, monospace; font-size: 11px; }
.maps { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; page-break-inside: avoid; }
.maps svg { max-width: 100%; height: auto; }
.meta { color: #555; font-size: 12px; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } }
"""


def render_html(report: dict) -> str:
    title = title_of(report)
    status = report["record"]["verify"]["status"]
    cls = {"intact": "ok", "interrupted": "warn"}.get(status, "bad")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           f'<p class="meta">acquire {escape(report["report"]["generator"]["version"])}, generated '
           f'{escape(report["report"]["generated_utc"])}</p>',
           f'<div class="status {cls}" id="verify-status">{escape(report["record"]["verify"]["summary"])}</div>']
    maps = report_maps(report)
    out.append('<h2 id="maps">Damage maps</h2>')
    if maps:
        out.append('<div class="maps">' + "".join(f"<div>{svg}</div>" for svg in maps) + "</div>")
        out.append('<p class="meta">Left: the sectors in LBA order, one cell per group of sectors, the worst '
                   'state in it shown. Right: each sector at its radius and angle on the nominal spiral of the '
                   'medium, so a radial scratch shows as a radial line and edge rot as an outer ring.</p>')
        audio_map = report_audio_map(report)
        if audio_map:
            out.append('<h3 id="audio-map">Audio tracks by time</h3><div class="maps"><div>' + audio_map + "</div></div>")
            out.append('<p class="meta">One strip per audio track, its own time from 00:00: the samples no reads '
                       'agreed on (the "Unresolved samples" table) where they are, coloured by why, and under them '
                       'any sector of the track the sector map does not call read. The sector map marks where each '
                       'track begins.</p>')
        per_session = session_maps(report)
        if per_session:
            out.append('<h3 id="session-maps">Per session</h3><div class="maps">'
                       + "".join(f"<div>{svg}</div>" for svg in per_session) + "</div>")
    else:
        out.append("<p>no sector map recorded</p>")
    for heading, lines, tables in sections(report):
        out.append(f"<h2>{escape(heading)}</h2>")
        out += [f"<p>{escape(line)}</p>" for line in lines]
        for caption, headers, rows in tables:
            if caption:
                out.append(f"<h3>{escape(caption)}</h3>")
            out.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table>")
    out += validation.screenshots_html(report)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
