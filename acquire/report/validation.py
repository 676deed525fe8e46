"""The validation part of every report: the record's 'validation' events (acquire validate), and the boot
screenshots beside the record, each checked against the SHA-256 its event recorded before it is shown.

    report["validation"] = model_part(record, record_path)     # model.py
    section(report)                                            # HTML and Markdown, via sections.py
    screenshots_html(report)                                   # the PNGs inline (HTML only)
    dfxml_part(root, report, sub, name)                        # dfxml.py
"""
from __future__ import annotations

import base64
import hashlib
from html import escape
from pathlib import Path
from typing import Any

EVENT = "validation"                # acquire.validate.result.EVENT: reports read, never import, validate
MAX_LINES = 40


def model_part(record, record_path: Path) -> dict[str, Any]:
    """The latest result of each check (a later `acquire validate` supersedes it), in the order run."""
    latest: dict[str, dict] = {}
    events = record.events(EVENT)
    for e in events:
        d = e["details"]
        latest.pop(d.get("check"), None)
        latest[d.get("check")] = {"event_id": e["id"], "time_utc": e["time_utc"], **d}
    checks = list(latest.values())
    for c in checks:
        shot = (c.get("figures") or {}).get("screenshot")
        if shot:
            c["screenshot"] = _screenshot(Path(record_path).parent / shot["file"], shot.get("sha256"))
    ok = all(c.get("ok") for c in checks)
    summary = ("not validated (run acquire validate)" if not checks else
               f"{sum(1 for c in checks if c.get('ok'))} of {len(checks)} checks passed or were skipped"
               + ("" if ok else "; some FAILED"))
    return {"validated": bool(checks), "ok": ok if checks else None, "summary": summary, "events": len(events),
            "checks": checks}


def _screenshot(path: Path, recorded: str | None) -> dict[str, Any]:
    if not path.is_file():
        return {"path": str(path), "present": False, "matches_record": False}
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "present": True, "sha256": actual, "matches_record": actual == recorded}


def section(report: dict) -> tuple[str, list[str], list]:
    v = report.get("validation") or {"checks": [], "summary": "not validated"}
    rows = [[c.get("check", "-"), c.get("outcome", "-"), "yes" if c.get("ok") else "NO", c.get("summary", ""),
             c.get("time_utc", "")] for c in v["checks"]]
    tables = [("Checks (one chained 'validation' event each)", ["check", "outcome", "ok", "summary", "time (UTC)"],
               rows or [["-", "none recorded", "-", "-", "-"]])]
    for c in v["checks"]:
        lines = [[line] for line in (c.get("details") or [])[:MAX_LINES]]
        shot = c.get("screenshot")
        if shot:
            state = ("matches the SHA-256 in the record" if shot["matches_record"] else
                     "DOES NOT match the SHA-256 in the record" if shot["present"] else "is missing")
            lines.append([f"screenshot {Path(shot['path']).name} {state}"])
        if lines:
            tables.append((c.get("check", ""), ["detail"], lines))
    return ("Validation: readers, mount, boot", [v["summary"]], tables)


def screenshots_html(report: dict) -> list[str]:
    """Each boot's screenshot inline (data: URI), only when its bytes are the ones the record hashed."""
    out = []
    for c in (report.get("validation") or {}).get("checks", []):
        shot = c.get("screenshot")
        if not shot or not shot["present"]:
            continue
        name = escape(c.get("check", ""))
        if not shot["matches_record"]:
            out.append(f'<p class="bad">{name}: the screenshot beside the record is not the one the record hashed; '
                       "not shown</p>")
            continue
        data = base64.b64encode(Path(shot["path"]).read_bytes()).decode("ascii")
        out.append(f'<figure class="boot-screenshot" id="shot-{name.replace(" ", "-")}">'
                   f'<img alt="{name}: the guest screen" src="data:image/png;base64,{data}" style="max-width:100%;'
                   f'border:1px solid #888"><figcaption>{name}: {escape(c.get("summary", ""))}</figcaption></figure>')
    return (['<h2 id="boot-screenshots">Boot screenshots</h2>'] + out) if out else []


def dfxml_part(root, report: dict, sub, tag) -> None:
    """<acquire:validation> with one <acquire:check> per check (after boot_images, in acquire's namespace)."""
    v = report.get("validation") or {}
    if not v.get("checks"):
        return
    el = sub(root, tag("validation"), None, ok="1" if v["ok"] else "0")
    for c in v["checks"]:
        check = sub(el, tag("check"), c.get("summary", ""), name=c.get("check"), outcome=c.get("outcome"),
                    ok="1" if c.get("ok") else "0", event_id=c.get("event_id"), time_utc=c.get("time_utc"))
        shot = (c.get("figures") or {}).get("screenshot")
        if shot:
            check.set(tag("screenshot"), shot["file"])
            check.set(tag("screenshot_sha256"), shot.get("sha256", ""))
