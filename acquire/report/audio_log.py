"""A whipper-like rip log of an audio or mixed-mode CD, generated from the record (`acquire report
RECORD -o disc.log`): what an archive that keeps whipper or EAC logs beside its rips expects to
read, with the figures the record holds and nothing it does not (no peak level, no test CRC: acquire
compares reads sample by sample instead). YAML-shaped text, as whipper's logger writes it."""
from __future__ import annotations

from typing import Any

from .audio_section import cd_text_blocks_lines, codes_line, disc_text, sectors_time, track_facts

FRAMES_PER_SECOND = 75


def _msf(frames: int) -> str:
    return f"{frames // 4500:02d}:{frames // 75 % 60:02d}.{frames % 75:02d}"


def _crc(text: str | None) -> str:
    """A CRC as whipper writes it (upper case hex), or none (a record made before CTDB, the HTOA)."""
    return text.upper() if text else "none"


def render_log(report: dict[str, Any]) -> str:
    a = report.get("audio")
    generator = report.get("report", {}).get("generator", {})
    out = [f"Log created by: acquire {generator.get('version', '?')}", ""]
    if not a:
        return "\n".join(out + ["No audio tracks in this record.", ""])
    d = a["disc"]
    drive = d.get("drive") or ["", "", ""]
    out += ["Ripping phase information:",
            f"  Drive: {drive[0]} {drive[1]} (revision {drive[2]})",
            f"  Read offset correction: {d.get('read_offset', 0):+d}",
            f"  Read offset source: {d.get('offset_source')} ({d.get('offset_detail', '')})",
            f"  C2 error pointers: {'Yes' if d.get('c2') else 'No'}",
            f"  Subchannel: {d.get('subchannel')}",
            f"  Reads that must agree on each sample: {d.get('agree')}",
            "",
            "CD metadata:",
            f"  MusicBrainz Disc ID: {d.get('musicbrainz_id')}",
            f"  FreeDB Disc ID: {d.get('freedb_id')}",
            f"  Catalog number: {d.get('catalog') or 'none'}",
            f"  CTDB CRC: {_crc((d.get('ctdb') or {}).get('crc'))}",
            *[f"  {k.title()}: {v}" for k, v in disc_text(d).items()],
            f"  ISRC and MCN: {codes_line(d)}",
            *[f"  {line}" for line in cd_text_blocks_lines(d)],
            "",
            "TOC:"]
    lead_out = d.get("lead_out", 0)
    toc = d.get("toc") or []
    for i, (number, _session, start, audio, sectors) in enumerate(toc):
        end = toc[i + 1][2] if i + 1 < len(toc) else lead_out
        out += [f"  {number}:", f"    Type: {'audio' if audio else 'data'}",
                f"    Start: {_msf(start)}", f"    Length: {_msf(sectors)}", f"    Start sector: {start}",
                f"    End sector: {start + sectors - 1}", f"    Gap after: {end - start - sectors}"]
    out += ["", "Tracks:"]
    damage: dict[int, list[dict]] = {}
    for x in a["damage"]:
        damage.setdefault(x["track"], []).append(x)
    for t in a["tracks"]:
        facts = track_facts(d, t["track"])
        status = "Copy OK" if not t["unresolved_samples"] else f"{t['unresolved_samples']} samples unresolved"
        out += [f"  {t['track']}:" + (" (hidden track one audio, before track 1's INDEX 01)" if facts["htoa"] else ""),
                f"    Filename: {t['file']}",
                *[f"    {k.title()}: {v}" for k, v in facts["cd_text"].items()],
                f"    Pre-gap length: {sectors_time(facts['pregap'])}",
                f"    ISRC: {facts['isrc'] or 'none'}",
                f"    Copy CRC: {t['crc32'].upper()}",
                f"    SHA-1 of the samples: {t['sha1']}",
                "    AccurateRip v1:", "      Result: Not checked (computed offline; no network at acquisition)",
                f"      Local CRC: {t['accuraterip_v1'].upper()}",
                "    AccurateRip v2:", "      Result: Not checked (computed offline; no network at acquisition)",
                f"      Local CRC: {t['accuraterip_v2'].upper()}",
                f"    CTDB CRC: {_crc(facts['ctdb_crc'])}",
                f"    Sectors read: {t['reads']} (re-read {t['rereads']}), C2-flagged samples: {t['c2_samples']}",
                f"    Status: {status}"]
        for x in damage.get(t["track"], []):
            out.append(f"      Unresolved at {x['time']}: samples {x['first_sample']}-{x['last_sample']} ({x['reason']})")
    total = sum(t["unresolved_samples"] for t in a["tracks"])
    out += ["", "Conclusive status report:",
            f"  Health status: {'No errors occurred' if not total else f'{total} samples unresolved'}",
            "  EOF: End of status report", ""]
    return "\n".join(out)
