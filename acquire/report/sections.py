"""The report's sections as titled tables, shared by the HTML and Markdown renderers so both say the same.

A section is (title, intro lines, tables); a table is (caption, headers, rows). Values are plain
strings; each renderer escapes for its own format.
"""
from __future__ import annotations

from typing import Any

from . import validation
from .audio_section import audio_section
from .layout_section import layout_section
from . import file_metadata

MAX_RANGES_SHOWN = 20
MAX_FILES_SHOWN = 200

Table = tuple[str, list[str], list[list[str]]]
Section = tuple[str, list[str], list[Table]]


def s(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    return str(value)


def ranges(pairs: list[list[int]], limit: int = MAX_RANGES_SHOWN) -> str:
    shown = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in pairs[:limit])
    return shown + (f" ... ({len(pairs)} ranges)" if len(pairs) > limit else "") if pairs else "none"


def title_of(report: dict) -> str:
    case = report["case"]
    parts = [p for p in (case.get("case_id"), case.get("evidence_id")) if p]
    return "Acquisition report" + (": " + " / ".join(parts) if parts else "")


def sections(report: dict) -> list[Section]:
    return [_verify(report), _case(report), _image(report), _medium(report), layout_section(report),
            audio_section(report), _drives(report), _runs(report), _passes(report), _damage(report),
            _filesystem(report), validation.section(report), _settings(report)]


def _verify(r: dict) -> Section:
    rec = r["record"]
    lines = [rec["verify"]["summary"], f"chain head {rec['head_hash']}", f"seal: {r['seal']['summary']}"]
    rows = [[f["severity"], f["table"], s(f["row"]), f["message"]] for f in rec["verify"]["findings"]]
    tables = [("Findings", ["severity", "table", "row", "message"], rows)] if rows else []
    ver = [[v.get("time_utc", ""), s(v.get("source")), s(v.get("ok")),
            "; ".join(f"{k}: {val}" for k, val in (v.get("checks") or {}).items())] for v in r["verifications"]]
    tables.append(("Verifications against the source (events)", ["time (UTC)", "source", "ok", "checks"],
                   ver or [["-", "none recorded", "-", "-"]]))
    return ("Record verification", lines, tables)


def _case(r: dict) -> Section:
    c, g, rec = r["case"], r["report"]["generator"], r["record"]
    rows = [["case", s(c.get("case_id"))], ["evidence", s(c.get("evidence_id"))], ["examiner", s(c.get("examiner"))],
            ["notes", s(c.get("notes"))], ["record created (UTC)", s(c.get("created_utc"))],
            ["record created on", f"{s(c.get('host'))} by {s(c.get('user'))}, acquire {s(c.get('tool_version'))}"],
            ["record", f"{rec['path']} ({rec['size_bytes']} bytes, schema {s(rec['schema_version'])})"],
            ["report generated (UTC)", r["report"]["generated_utc"]],
            ["report generated on", f"{g['host']} by {g['user']}, acquire {g['version']} ({g['os']}, {g['arch']})"]]
    return ("Case", [], [("", ["field", "value"], rows)])


def _strong(img: dict) -> str:
    """The windows' strong digest: blake3, or sha256 in a record from before it."""
    first = img["windows"][0] if img.get("windows") else {}
    return "sha256" if first.get("sha256") is not None else "blake3"


def _image(r: dict) -> Section:
    img = r["image"]
    rows = [["image", s(img["path"])], ["size (bytes)", s(img["size_bytes"])]]
    rows += [[name, value] for name, value in img["hashes"].items()]
    rows.append(["piecewise windows", f"{img['window_count']} of {s(img['window_bytes'])} bytes (xxh128 + {_strong(img)})"])
    rows.append(["chain head", s(r["record"]["head_hash"])])
    rows.append(["seal", r["seal"]["summary"]])
    m = r["map"]
    counts = m["counts"]
    lines = [f"{counts['finished']} of {m['sectors']} sectors read; {s(m['unreadable_sectors'])} not read "
             f"({counts['bad']} bad, {counts['non-scraped']} non-scraped, {counts['non-trimmed']} non-trimmed, "
             f"{counts['untried']} untried); {counts.get('not-recorded', 0)} not recorded (no data there by design).",
             f"Unreadable ranges (LBA, inclusive): {ranges(m['unreadable_ranges'])}."]
    lines += _not_tried(r)
    return ("Image and hashes", lines, [("", ["item", "value"], rows)])


def _not_tried(r: dict) -> list[str]:
    """What no READ has tried yet, and why the last run stopped before it (a budget: runs.stop_reason)."""
    m, last = r["map"], (r["runs"] or [{}])[-1]
    reason = last.get("stop_reason")
    if not m.get("not_tried_ranges") and reason in (None, "done"):
        return []
    return [f"Not tried ({m['counts']['untried']} sectors; a later run goes on from the map): "
            f"{ranges(m['not_tried_ranges'])}.", f"The last run (run {s(last.get('id'))}) stopped: {s(reason)}."]


def _medium(r: dict) -> Section:
    m = r["medium"]
    if not m.get("known"):
        return ("Medium", ["no medium recorded"], [])
    rows = [["profile", f"{s(m['profile_name'])} ({s(m['profile'])})"], ["family", m["family"]],
            ["capacity", f"{m['capacity']} sectors of {m['sector_size']} bytes ({m['capacity_bytes']} bytes)"],
            ["volume label", s(m["volume_label"])]]
    vol = m.get("volume") or {}
    for key in ("system_id", "volume_space_size", "publisher_id", "data_preparer_id", "application_id",
                "creation", "modification"):
        if key in vol:
            rows.append([f"volume {key}", s(vol[key])])
    g = m.get("geometry")
    if g:
        rows.append(["map geometry", f"{g['family'].upper()}{' (assumed)' if g['assumed'] else ''}: r0 {g['r0_mm']} mm, "
                     f"pitch {g['pitch_mm'] * 1000:.2f} um, {g['layers']} layer(s), data to "
                     f"{g['outer_radius_mm']:.1f} mm, {g['total_turns']:.0f} turns"])
    toc = [[s(t.get("track")), s(t.get("start_lba")), s(t.get("control")), s(t.get("adr"))] for t in (m.get("toc") or [])]
    tables: list[Table] = [("", ["field", "value"], rows)]
    if toc:
        tables.append(("TOC", ["track", "start LBA", "control", "adr"], toc))
    return ("Medium", [], tables)


def _drives(r: dict) -> Section:
    rows = [[s(d["id"]), s(d["device"]), f"{s(d['vendor'])} {s(d['product'])} {s(d['revision'])}", s(d["serial"]),
             ", ".join(map(str, d["runs"])) or "-", s(d["sectors_read"]), s(d["sectors_only_this_drive"]),
             s(d["failed_reads"]), s(d["failed_sectors"]), s(d["drive_time_s"])] for d in r["drives"]]
    prov = [[s(p["run_id"]), s(p["drive_id"]), s(p["phase"]), s(p["pass_no"]), s(p["sectors"]), ranges(p["ranges"], 8)]
            for p in r["provenance"]]
    return ("Drives and provenance", ["Which drive read which sectors, by run, phase and pass; "
                                      "\"only this drive\": read by it after another drive failed them."],
            [("Drives", ["id", "device", "drive", "serial", "runs", "sectors read", "only this drive",
                         "failed reads", "sectors failed", "drive time (s)"], rows),
             ("Provenance", ["run", "drive", "phase", "pass", "sectors", "LBA ranges"], prov)])


def _runs(r: dict) -> Section:
    rows = [[s(x["id"]), s(x["started_utc"]), s(x["ended_utc"]), s(x["status"]), s(x["drive_id"]),
             f"{s(x['user'])}@{s(x['host'])}", s(x["tool_version"]), s(x["command"])] for x in r["runs"]]
    return ("Runs", [], [("", ["run", "started (UTC)", "ended (UTC)", "status", "drive", "by", "version", "command"], rows)])


def _passes(r: dict) -> Section:
    rows = [[s(p["run_id"]), s(p["phase"]), s(p["pass_no"]), s(p["direction"]), s(p["reads"]), s(p["failed_reads"]),
             s(p["sectors_finished"]), s(p["sectors_bad"]), s(p["drive_time_s"])] for p in r["passes"]]
    return ("Passes", [], [("", ["run", "phase", "pass", "direction", "reads", "failed", "sectors finished",
                                 "sectors bad", "drive time (s)"], rows)])


def _damage(r: dict) -> Section:
    d = r["damage"]
    lines = [f"{d['reads']} logged reads: {d['failed']} failed, {d['marginal']} marginal (data after drive "
             f"retries or ECC); {s(d['drive_time_s'])} s in the drive."
             + (f" {len(d['actions'])} retry-hygiene actions (pause, read speed, cache flush, drive check: "
                f"the record's actions table)." if d.get("actions") else "")]
    u = d.get("unstable") or {"sectors": 0, "ranges": [], "finished_since": 0}
    lines.append(f"Unstable sectors (two reads differed, --second-read): {u['sectors']}"
                 + (f": {ranges(u['ranges'])}; {u['finished_since']} finished by a later run since" if u["sectors"] else "")
                 + ".")
    sense = [[s(x["sense"]), s(x["sense_name"]), s(x["failed"]), s(x["marginal"]), s(x["sectors"])] for x in d["by_sense"]]
    phase = [[s(x["phase"]), s(x["failed"]), s(x["marginal"]), s(x["drive_time_s"])] for x in d["by_phase"]]
    first = [[s(x["id"]), s(x["time_utc"]), s(x["lba"]), s(x["count"]), s(x["phase"]), s(x["pass_no"]), s(x["outcome"]),
              s(x["sense"]), s(x["duration_s"]), s(x["drive_id"]), s(x["reason"])] for x in d["first_rows"]]
    return ("Damage log", lines, [
        ("By sense", ["sense", "name", "failed", "marginal", "sectors"], sense),
        ("By phase", ["phase", "failed", "marginal", "drive time (s)"], phase),
        (f"The first {len(first)} of {d['reads']} rows", ["id", "time (UTC)", "LBA", "count", "phase", "pass",
                                                           "outcome", "sense", "s", "drive", "reason"], first)])


def _filesystem(r: dict) -> Section:
    fs = r["filesystem"]
    if not fs["analysed"]:
        return ("Files", [fs["summary"]], [])
    tables: list[Table] = []
    tables.append(("File systems", ["id", "kind", "label", "problems"],
                   [[s(f.get("id")), s(f.get("kind")), s(f.get("label")),
                     "; ".join(map(str, f.get("problems") or [])) or "none"] for f in fs["filesystems"]]))
    damaged = fs["damaged_files"]
    tables.append((f"Damaged files, by loss ({len(damaged)})", ["path", "size (bytes)", "unreadable sectors",
                                                                 "lost bytes", "lost"],
                   [[f["path"], s(f["size"]), s(f["unreadable_sectors"]), s(f["lost_bytes"]),
                     f"{f['lost_fraction'] * 100:.1f}%"] for f in damaged[:MAX_FILES_SHOWN]]
                   or [["none", "-", "-", "-", "-"]]))
    listed = fs["files"]
    tables.append((f"Files, the first {min(len(listed), MAX_FILES_SHOWN)} of {len(listed)}",
                   ["file system", "path", "size (bytes)", "verdict", "mode", "modified (UTC)", "metadata"],
                   [[s(f.get("filesystem_id")), s(f.get("path")), s(f.get("size")), s(f.get("verdict")),
                     s(f.get("mode")), s(f.get("mtime_utc")), file_metadata.summary(f) or "-"]
                    for f in listed[:MAX_FILES_SHOWN]] or [["none"] + ["-"] * 6]))
    if fs["unreadable_tree"]:
        tables.append(("Unreadable parts of the tree", ["path", "LBA", "count", "what"],
                       [[s(t.get("path")), s(t.get("lba")), s(t.get("count")), s(t.get("what"))] for t in fs["unreadable_tree"]]))
    tables.append(("Boot images (El Torito)", ["entry", "platform", "emulation", "load segment", "sectors", "LBA",
                                               "bytes", "sha256", "bootable", "unreadable sectors"],
                   [[s(b.get("entry_no")), s(b.get("platform")), s(b.get("emulation")), s(b.get("load_segment")),
                     s(b.get("sector_count")), s(b.get("lba")), s(b.get("size_bytes")), s(b.get("sha256")),
                     s(b.get("bootable")), s(b.get("unreadable_sectors"))] for b in fs["boot_images"]]
                   or [["none"] + ["-"] * 9]))
    if fs.get("extracted_boot_images"):
        tables.append(("Extracted boot images", ["entry", "file", "bytes", "sha256", "matches the record"],
                       [[s(e["entry_no"]), e["path"], s(e["size_bytes"]), e["sha256"], s(e["matches_record"])]
                        for e in fs["extracted_boot_images"]]))
    from .sessions import section as sessions_part  # a multisession disc: each session's tree, what changed
    lines, more = sessions_part(r)
    return ("Files", [fs["summary"], *lines], tables + more)


def _settings(r: dict) -> Section:
    rows = [[s(x["run_id"]), s(x["time_utc"]), s(x["name"]), s(x["old_value"]), s(x["new_value"])] for x in r["settings"]]
    ev = r["events"]
    lines = [f"{ev['count']} events; " + ", ".join(f"{k} {n}" for k, n in ev["kinds"].items())]
    return ("Drive settings and events", lines,
            [("Settings changed", ["run", "time (UTC)", "setting", "old", "new"], rows or [["-", "-", "none", "-", "-"]])])
