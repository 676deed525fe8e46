"""An audio or mixed-mode CD in a report: the read offset and its source, the disc IDs, each audio
track's checksums and reads, and every unresolved run of samples by track and mm:ss.ff
(docs/reports.md "Audio"). `audio(record)` is the report dict's "audio" key, `audio_section(report)`
its section for HTML and Markdown."""
from __future__ import annotations

from typing import Any

from ..record import Record
from ..record.audio_tables import load_audio


def audio(record: Record) -> dict[str, Any] | None:
    return load_audio(record)


def track_facts(disc: dict, number: int) -> dict[str, Any]:
    """What the record's disc figures say of one track (the log and the section both show these):
    its pre-gap (INDEX 00 sectors from Q), ISRC, CTDB CRC, CD-TEXT; track 0 is the HTOA."""
    return {"pregap": int((disc.get("pregaps") or {}).get(str(number), 0)),
            "isrc": (disc.get("isrc") or {}).get(str(number)),
            "ctdb_crc": ((disc.get("ctdb") or {}).get("track_crcs") or {}).get(str(number)),
            "cd_text": (disc.get("cd_text") or {}).get(str(number), {}) if number > 0 else {},
            "htoa": number == 0}


def sectors_time(sectors: int) -> str:
    """mm:ss.ff of a count of sectors (75 a second)."""
    return f"{sectors // 4500:02d}:{sectors // 75 % 60:02d}.{sectors % 75:02d}"


def cd_text_line(cd_text: dict[str, str]) -> str:
    """CD-TEXT pairs as one line: "title X / performer Y"; "-" where there is none."""
    return " / ".join(f"{k.lower()} {v}" for k, v in cd_text.items()) or "-"


def audio_section(report: dict) -> tuple[str, list[str], list]:
    a = report.get("audio")
    if not a:
        return ("Audio", ["no audio tracks in this record"], [])
    d = a["disc"]
    unresolved = sum(t["unresolved_samples"] for t in a["tracks"])
    lines = [f"read offset {d.get('read_offset', 0):+d} samples ({d.get('offset_source')}: {d.get('offset_detail', '')}); "
             f"C2 {'used' if d.get('c2') else 'not given by the drive'}; subchannel {d.get('subchannel')}; "
             f"{d.get('agree')} reads must agree on each sample",
             f"MusicBrainz disc ID {d.get('musicbrainz_id')}, FreeDB ID {d.get('freedb_id')}",
             f"catalogue number (MCN) {d.get('catalog') or 'none'}; CTDB CRC of the disc "
             f"{(d.get('ctdb') or {}).get('crc', '-')}; CD-TEXT of the disc {cd_text_line(disc_text(d))}",
             f"ISRC and MCN {codes_line(d)}",
             *cd_text_blocks_lines(d),
             f"BIN {d.get('bin')} (sha1 {d.get('bin_sha1')}), CUE {d.get('cue')}",
             f"{unresolved} samples unresolved" + ("" if unresolved else ": every sample read and agreed")]
    tracks = [_track_row(t, track_facts(d, t["track"])) for t in a["tracks"]]
    damage = [[str(x["track"]), x["time"], str(x["first_sample"]), str(x["last_sample"]),
               str(x["last_sample"] - x["first_sample"] + 1), x["reason"]] for x in a["damage"]]
    tables = [("Audio tracks", ["track", "first LBA", "last LBA", "file", "pre-gap (mm:ss.ff)", "ISRC", "CRC32",
                                "AccurateRip v1", "AccurateRip v2", "CTDB CRC", "CD-TEXT", "sectors read", "re-read",
                                "C2 samples", "unresolved"], tracks)]
    if damage:
        tables.append(("Unresolved samples (by track and time)", ["track", "time (mm:ss.ff)", "first sample",
                                                                  "last sample", "samples", "why"], damage))
    if d.get("htoa"):
        h = d["htoa"]
        lines.append(f"hidden track one audio: {h.get('sectors')} sectors ({sectors_time(h.get('sectors') or 0)}) "
                     f"before track 1, {'digital silence' if h.get('silent') else 'not silent'}, ripped to {h.get('file')}")
    return ("Audio", lines, tables)


def _track_row(t: dict, facts: dict) -> list[str]:
    return ["0 (HTOA)" if facts["htoa"] else str(t["track"]), str(t["start"]), str(t["end"] - 1), t["file"],
            sectors_time(facts["pregap"]), facts["isrc"] or "-", t["crc32"], t["accuraterip_v1"], t["accuraterip_v2"],
            facts["ctdb_crc"] or "-", cd_text_line(facts["cd_text"]), str(t["reads"]), str(t["rereads"]),
            str(t["c2_samples"]), str(t["unresolved_samples"]) + (" (budget spent)" if t["budget_spent"] else "")]


def disc_text(d: dict) -> dict[str, str]:
    """The disc's own CD-TEXT (track 0 in CD-TEXT's numbering; not the HTOA's)."""
    return (d.get("cd_text") or {}).get("0", {})


def cd_text_blocks_lines(d: dict) -> list[str]:
    """The CD-TEXT's other language blocks (the CUE has block 0 only), one line a track, and what
    made it damaged; nothing for a disc with block 0 alone and sound packs (or an older record)."""
    out = []
    for b in d.get("cd_text_blocks") or []:
        if b["block"] == 0:
            continue
        language = f"language {b['language']:02X}h {b.get('language_name') or ''}".strip() \
            if b.get("language") is not None else "language unknown"
        out.append(f"CD-TEXT block {b['block']} ({language}, {b.get('encoding')}):")
        out += [f"  {'disc' if t == '0' else 'track ' + t}: {cd_text_line(fields)}" for t, fields in b["text"].items()]
        out += [f"  note: {n}" for n in b.get("notes") or []]
    damaged = d.get("cd_text_damaged") or []
    if damaged:
        out.append("CD-TEXT damaged: " + "; ".join(damaged))
    return out


def codes_line(d: dict) -> str:
    """Where the ISRCs and MCN came from, and each code the two sources gave differently."""
    differ = d.get("codes_disagree") or []
    said = "; ".join(f"{x['code'].upper()}{'' if x['track'] is None else ' of track ' + str(x['track'])}: Q frames "
                     f"{x['q']}, READ SUB-CHANNEL {x['read_sub_channel']}" for x in differ)
    return (f"from {d.get('codes_source', 'READ SUB-CHANNEL')}; "
            + (f"{len(differ)} disagree ({said})" if differ else "the two sources do not disagree"))
