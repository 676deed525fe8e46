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
             f"BIN {d.get('bin')} (sha1 {d.get('bin_sha1')}), CUE {d.get('cue')}",
             f"{unresolved} samples unresolved" + ("" if unresolved else ": every sample read and agreed")]
    tracks = [[str(t["track"]), str(t["start"]), str(t["end"] - 1), t["file"], t["crc32"], t["accuraterip_v1"],
               t["accuraterip_v2"], str(t["reads"]), str(t["rereads"]), str(t["c2_samples"]),
               str(t["unresolved_samples"]) + (" (budget spent)" if t["budget_spent"] else "")] for t in a["tracks"]]
    damage = [[str(x["track"]), x["time"], str(x["first_sample"]), str(x["last_sample"]),
               str(x["last_sample"] - x["first_sample"] + 1), x["reason"]] for x in a["damage"]]
    tables = [("Audio tracks", ["track", "first LBA", "last LBA", "file", "CRC32", "AccurateRip v1", "AccurateRip v2",
                                "sectors read", "re-read", "C2 samples", "unresolved"], tracks)]
    if damage:
        tables.append(("Unresolved samples (by track and time)", ["track", "time (mm:ss.ff)", "first sample",
                                                                  "last sample", "samples", "why"], damage))
    return ("Audio", lines, tables)
