"""The Markdown report: the HTML report's content as text, for a case file."""
from __future__ import annotations

from .sections import sections, title_of


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict, *, map_files: tuple[str, ...] | None = None) -> str:
    """`map_files`: the names of the SVG maps written beside the report, to link them: the sector
    map, the disc map and, for a disc with audio tracks, the audio tracks by time."""
    out = [f"# {title_of(report)}", "",
           f"acquire {report['report']['generator']['version']}, generated {report['report']['generated_utc']}", "",
           f"**{report['record']['verify']['summary']}**", ""]
    out += ["## Damage maps", ""]
    if map_files:
        out += [f"![Sector map]({map_files[0]})", "", f"![Disc map]({map_files[1]})", "",
                "The sector map shows the sectors in LBA order; the disc map shows each sector at its radius "
                "and angle on the nominal spiral (a radial scratch is a radial line, edge rot an outer ring).", ""]
        if len(map_files) > 2:
            out += [f"![Audio tracks by time]({map_files[2]})", "",
                    "One strip per audio track on its own mm:ss axis: the unresolved samples (the table under "
                    "\"Audio\") at their times, and any sector of the track the sector map does not call read.", ""]
    else:
        out += ["(maps: see the HTML report)", ""]
    for heading, lines, tables in sections(report):
        out += [f"## {heading}", ""]
        for line in lines:
            out += [line, ""]
        for caption, headers, rows in tables:
            if caption:
                out += [f"### {caption}", ""]
            out.append("| " + " | ".join(_cell(h) for h in headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)
