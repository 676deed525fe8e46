"""Reports on a record: HTML, Markdown, JSON and DFXML, chosen by the output's extension (docs/reports.md).

    write_report(Path("disc.iso.custody.sqlite"), Path("disc-report.html"))

Reports only read the record (opened read-only) and, for --extract-boot, the image beside it.
"""
from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import AcquireError, UsageError
from ..fs.eltorito import extract_boot_images as extract_boot
from ..record.fs_tables import BootImage
from . import model

__all__ = ["FORMATS", "build_report", "render", "write_report"]

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json", ".xml": "dfxml", ".dfxml": "dfxml",
           ".log": "log"}


def build_report(record_path: Path) -> dict[str, Any]:
    """Everything the report says, as the dict the JSON report holds."""
    return model.build(Path(record_path))


def render(report: dict[str, Any], fmt: str, *, map_files: tuple[str, ...] | None = None) -> str:
    """`report` (from build_report) as text in `fmt`: html, markdown, json or dfxml. `map_files`:
    for Markdown, the names of the SVG maps beside it, to link (sector map, disc map, audio map)."""
    if fmt == "json":
        return json.dumps(report, indent=1, sort_keys=False, ensure_ascii=False, default=str) + "\n"
    if fmt == "html":
        from .html import render_html
        return render_html(report)
    if fmt == "markdown":
        from .markdown import render_markdown
        return render_markdown(report, map_files=map_files)
    if fmt == "dfxml":
        from .dfxml import render_dfxml
        return render_dfxml(report)
    if fmt == "log":                       # an audio CD's whipper-like rip log (docs/audio.md)
        from .audio_log import render_log
        return render_log(report)
    raise UsageError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(sorted(set(FORMATS.values())))}")


def write_report(record_path: Path, out: Path, *, extract_boot: Path | None = None,
                 image: Path | None = None) -> Path:
    """Write the report of the record at `record_path` to `out`, in the format its extension names
    (.html .md .json .xml). With `extract_boot`, first copy each El Torito boot image out of the
    image (`image`, default: the record's name without .custody.sqlite) into that directory and
    list the copies in the report. Returns `out`."""
    record_path, out = Path(record_path), Path(out)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the report format of {out}",
                         hint="end the name in .html, .md, .json, .xml (DFXML) or .log (an audio CD's rip log)")
    report = build_report(record_path)
    if extract_boot is not None:
        report["filesystem"]["extracted_boot_images"] = extract_boot_images(
            report, Path(extract_boot), image or model.image_of(record_path))
    map_files = None
    if fmt == "markdown":                      # Markdown cannot hold SVG: the maps go beside it
        from .audio_map import report_audio_map
        from .svg import report_maps
        maps = report_maps(report)
        if maps:
            map_files = (f"{out.stem}.sector-map.svg", f"{out.stem}.disc-map.svg")
            audio_map = report_audio_map(report)
            if audio_map:
                maps, map_files = (*maps, audio_map), (*map_files, f"{out.stem}.audio-map.svg")
            for name, svg in zip(map_files, maps):
                _write(out.with_name(name), svg)
    _write(out, render(report, fmt, map_files=map_files))
    return out


def _write(path: Path, text: str) -> None:
    """All or nothing: a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AcquireError(f"cannot write {path} ({exc.strerror})") from exc


def extract_boot_images(report: dict[str, Any], directory: Path, image: Path | None) -> list[dict]:
    """Copy each recorded boot image out of the image and check it against its recorded SHA-256
    (acquire.fs.eltorito.extract_boot_images, which names the copies)."""
    rows = report["filesystem"]["boot_images"]
    if not rows:
        return []
    if image is None or not image.is_file():
        raise AcquireError(f"cannot extract boot images: no image at {image}",
                           hint="keep the record beside its image (IMAGE.custody.sqlite)")
    known = {f.name for f in fields(BootImage)}
    boot = [BootImage(**{k: v for k, v in row.items() if k in known}) for row in rows]
    return [done.as_dict() for done in extract_boot(image, boot, directory)]
