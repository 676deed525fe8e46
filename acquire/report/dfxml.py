"""The DFXML report (Digital Forensics XML 2.0.0-beta.0; docs/reference/dfxml.md), written with xml.etree.

Element order follows the schema's sequences, which are strict:

    dfxml: metadata, creator, source, diskimageobject, [acquire:boot_images]
    diskimageobject: byte_runs (whole image with its hashes; piecewise windows; unreadable
                     ranges with fill="0x00"), sector_size, volume* (one per file system: fileobjects)

The image hashes sit on a whole-image byte_run (diskimageobject has no hashdigest of its own);
xxh128 and crc32 are hashdigest type="other" with acquire:algorithm="xxh128" / "crc32". Case and drive fields are in
<metadata> (Dublin Core and acquire's own namespace).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from ..rescue.sectormap import State
from . import sessions

DFXML_NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC_NS = "http://purl.org/dc/elements/1.1/"
ACQ_NS = "urn:acquire-disc:dfxml:1"
DFXML_VERSION = "2.0.0-beta.0"
SCHEMA_HASHES = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}

ET.register_namespace("", DFXML_NS)
ET.register_namespace("dc", DC_NS)
ET.register_namespace("acquire", ACQ_NS)


def _d(name: str) -> str:
    return f"{{{DFXML_NS}}}{name}"


def _a(name: str) -> str:
    return f"{{{ACQ_NS}}}{name}"


def _sub(parent: ET.Element, tag: str, text: object = None, **attrib: object) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = str(text)
    return el


def _hash(parent: ET.Element, algorithm: str, value: str) -> None:
    if algorithm in SCHEMA_HASHES:
        _sub(parent, _d("hashdigest"), value, type=algorithm)
    else:
        el = _sub(parent, _d("hashdigest"), value, type="other")
        el.set(_a("algorithm"), algorithm)


def _datetime(text: object) -> str | None:
    """An xs:dateTime, or None when `text` is not one (then the time is left out, not made up)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return text if "T" in text else None


def render_dfxml(report: dict) -> str:
    root = ET.Element(_d("dfxml"), {"version": DFXML_VERSION})
    _metadata(root, report)
    _creator(root, report)
    source = _sub(root, _d("source"))
    _sub(source, _d("image_filename"), report["image"]["path"] or "")
    _diskimage(root, report)
    _boot_images(root, report)
    sessions.dfxml(root, report, _sub, _a)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _metadata(root: ET.Element, report: dict) -> None:
    meta = _sub(root, _d("metadata"))
    case, medium = report["case"], report["medium"]
    _sub(meta, f"{{{DC_NS}}}type", "Disk Image")
    if case.get("examiner"):
        _sub(meta, f"{{{DC_NS}}}creator", case["examiner"])
    for key in ("case_id", "evidence_id", "examiner", "notes", "created_utc"):
        if case.get(key) is not None:
            _sub(meta, _a(key), case[key])
    _sub(meta, _a("record"), report["record"]["path"])
    _sub(meta, _a("record_verify"), report["record"]["verify"]["summary"], status=report["record"]["verify"]["status"])
    _sub(meta, _a("chain_head"), report["record"]["head_hash"])
    seal = report["seal"]
    _sub(meta, _a("seal"), seal["summary"], signed="1" if seal["signed"] else "0", file=seal["file"],
         sha256=seal["seal_sha256"], code=seal["seal_code"], fingerprint=seal["fingerprint"])
    for d in report["drives"]:
        _sub(meta, _a("drive"), None, id=d["id"], device=d["device"], vendor=d["vendor"], product=d["product"],
             revision=d["revision"], serial=d["serial"], sectors_read=d["sectors_read"],
             sectors_only_this_drive=d["sectors_only_this_drive"], failed_reads=d["failed_reads"],
             failed_sectors=d["failed_sectors"], drive_time_s=d["drive_time_s"])
    if medium.get("known"):
        _sub(meta, _a("medium"), None, profile=medium["profile"], profile_name=medium["profile_name"],
             capacity=medium["capacity"], sector_size=medium["sector_size"], volume_label=medium["volume_label"])


def _creator(root: ET.Element, report: dict) -> None:
    gen = report["report"]["generator"]
    creator = _sub(root, _d("creator"))
    _sub(creator, _d("program"), "acquire")
    _sub(creator, _d("version"), gen["version"])
    env = _sub(creator, _d("execution_environment"))
    os_name, _, os_release = gen["os"].partition(" ")
    _sub(env, _d("os_sysname"), os_name)
    _sub(env, _d("os_release"), os_release)
    _sub(env, _d("host"), gen["host"])
    _sub(env, _d("arch"), gen["arch"])
    _sub(env, _d("command_line"), f"acquire report {report['record']['path']}")
    _sub(env, _d("username"), gen["user"])
    _sub(env, _d("start_time"), report["report"]["generated_utc"])


def _diskimage(root: ET.Element, report: dict) -> None:
    image, smap, medium = report["image"], report["map"], report["medium"]
    sector_size = medium.get("sector_size") or 2048
    disk = _sub(root, _d("diskimageobject"))
    runs = _sub(disk, _d("byte_runs"))
    if image["size_bytes"] is not None:
        whole = _sub(runs, _d("byte_run"), img_offset=0, len=image["size_bytes"])
        whole.set(_a("scope"), "image")
        for algorithm, value in image["hashes"].items():
            _hash(whole, algorithm, value)
    for w in image["windows"]:
        run = _sub(runs, _d("byte_run"), img_offset=w["offset"], len=w["length"])
        run.set(_a("scope"), "window")
        run.set(_a("window"), str(w["idx"]))
        _hash(run, "sha256", w["sha256"])
        _hash(run, "xxh128", w["xxh128"])
    state_names = {0: "untried", 1: "non-trimmed", 2: "non-scraped", 3: "bad", 5: "not-recorded"}
    for start, count, state, kind in _runs_with_kinds(report):
        if state == State.FINISHED:
            continue
        run = _sub(runs, _d("byte_run"), img_offset=start * sector_size, len=count * sector_size, fill="0x00")
        # a not-recorded run holds no data by design (a run-out, a gap between sessions): not damage
        run.set(_a("scope"), "not-recorded" if state == State.NOT_RECORDED else "unreadable")
        if kind:
            run.set(_a("kind"), kind)
        run.set(_a("state"), state_names.get(state, str(state)))
        run.set(_a("first_lba"), str(start))
        run.set(_a("sectors"), str(count))
    _sub(disk, _d("sector_size"), sector_size)
    fs = report["filesystem"]
    by_fs: dict[object, list[dict]] = {}
    for f in fs["files"]:
        by_fs.setdefault(f.get("filesystem_id"), []).append(f)
    known = {x.get("id"): x for x in fs["filesystems"]}
    for fs_id in list(known) + [k for k in by_fs if k not in known]:
        volume = _sub(disk, _d("volume"))
        info = known.get(fs_id, {})
        _sub(volume, _d("sector_size"), sector_size)
        if info.get("kind"):
            _sub(volume, _d("ftype_str"), info["kind"])
        if info.get("label") is not None:
            volume.set(_a("label"), str(info["label"]))
        for f in by_fs.get(fs_id, []):
            _fileobject(volume, f, sector_size)


def _runs_with_kinds(report: dict):
    """(start, count, state, kind) of each map run; a not-recorded run split at the layout's
    extents, each with its kind (run-out, session-gap, ...)."""
    extents = (report.get("layout") or {}).get("not_recorded", [])
    for start, count, state in report["map"]["runs"]:
        if state != State.NOT_RECORDED or not extents:
            yield start, count, state, None
            continue
        pos, end = start, start + count
        for n in extents:
            a, b = max(n["start"], pos), min(n["start"] + n["count"], end)
            if a >= b:
                continue
            if a > pos:
                yield pos, a - pos, state, None
            yield a, b - a, state, n["kind"]
            pos = b
        if pos < end:
            yield pos, end - pos, state, None


def _fileobject(parent: ET.Element, f: dict, sector_size: int) -> None:
    obj = _sub(parent, _d("fileobject"))
    _sub(obj, _d("filename"), (f.get("path") or "").lstrip("/"))
    if f.get("id") is not None:
        _sub(obj, _d("id"), f["id"])
    _sub(obj, _d("name_type"), "d" if f.get("is_dir") else "r")
    size = f.get("size") or 0
    _sub(obj, _d("filesize"), size)
    if isinstance(f.get("mode"), int) and f["mode"] >= 0:
        _sub(obj, _d("mode"), f["mode"])
    elif isinstance(f.get("mode"), str) and f["mode"]:
        obj.set(_a("mode"), f["mode"])         # '-rw-r--r--': DFXML's mode is numeric
    for key in ("uid", "gid"):
        if f.get(key) is not None:
            _sub(obj, _d(key), f[key])
    mtime = _datetime(f.get("mtime_utc"))
    if mtime:
        _sub(obj, _d("mtime"), mtime)
    if f.get("link_target"):
        _sub(obj, _d("link_target"), f["link_target"])
    runs = _sub(obj, _d("byte_runs"))
    offset = 0
    for lba, count in f.get("extents") or []:
        length = count * sector_size if f.get("is_dir") else min(count * sector_size, max(size - offset, 0))
        if length <= 0 and not f.get("is_dir"):
            continue
        _sub(runs, _d("byte_run"), file_offset=offset, img_offset=lba * sector_size, len=length)
        offset += length
    obj.set(_a("unreadable_sectors"), str(f.get("unreadable_sectors") or 0))


def _boot_images(root: ET.Element, report: dict) -> None:
    boot = report["filesystem"]["boot_images"]
    if not boot:
        return
    el = _sub(root, _a("boot_images"))
    for b in boot:
        _sub(el, _a("boot_image"), None, **{k: ("1" if v is True else "0" if v is False else v)
                                             for k, v in b.items() if v is not None})
