"""An audio or mixed-mode CD's figures in the record (docs/record.md "Audio"): the disc's (read
offset and its source, C2 and subchannel, disc IDs, TOC, the files written), one row per audio track
(its checksums, reads, what stayed unresolved) and the unresolved samples by track and time.

Declared in schema.TABLES; a record made before them gains them on the first save_audio. The seal
covers them like every other table (chain.sealed_tables).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .schema import TABLES

if TYPE_CHECKING:
    from .store import Record

AUDIO_TABLES = ("audio_disc", "audio_tracks", "audio_damage")
TRACK_COLUMNS = tuple(TABLES["audio_tracks"][0])
DAMAGE_COLUMNS = ("track", "first_sample", "last_sample", "time", "reason")


def ensure_tables(record: "Record") -> None:
    for name in AUDIO_TABLES:
        columns, pk, foreign_keys, not_null = TABLES[name]
        record.db[name].create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null, if_not_exists=True)


def save_audio(record: "Record", disc: dict[str, Any], tracks: list[dict[str, Any]], damage: list[dict[str, Any]],
               *, run_id: int | None) -> None:
    """Replace the stored audio figures and log an 'audio' event (what a report and verify read)."""
    with record._write() as conn:
        ensure_tables(record)
        for name in AUDIO_TABLES:
            conn.execute(f"DELETE FROM {name}")
        conn.executemany("INSERT INTO audio_disc (name, value) VALUES (?, ?)",
                         [(k, json.dumps(v)) for k, v in sorted(disc.items())])
        conn.executemany(f"INSERT INTO audio_tracks ({', '.join(TRACK_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(TRACK_COLUMNS))})",
                         [tuple(t[c] for c in TRACK_COLUMNS) for t in tracks])
        conn.executemany(f"INSERT INTO audio_damage ({', '.join(DAMAGE_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                         [tuple(d[c] for c in DAMAGE_COLUMNS) for d in damage])
        record._append_event(run_id, "audio", {
            "tracks": len(tracks), "read_offset": disc.get("read_offset"), "offset_source": disc.get("offset_source"),
            "unresolved_samples": sum(t["unresolved_samples"] for t in tracks),
            "musicbrainz_id": disc.get("musicbrainz_id"), "freedb_id": disc.get("freedb_id"),
            "codes_disagree": len(disc.get("codes_disagree") or []),
            # each disagreement named: which code, which track, what each source said
            "codes_disagreeing": [f"{x['code'].upper()}{'' if x['track'] is None else ' of track ' + str(x['track'])}: "
                                  f"Q frames {x['q']}, READ SUB-CHANNEL {x['read_sub_channel']}"
                                  for x in disc.get("codes_disagree") or []],
            "cd_text_damaged": len(disc.get("cd_text_damaged") or [])})


def load_audio(record: "Record") -> dict[str, Any] | None:
    """{"disc": {...}, "tracks": [...], "damage": [...]} or None for a record without audio."""
    conn = record.db.conn
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audio_tracks'").fetchone():
        return None
    disc = {name: json.loads(value) for name, value in conn.execute("SELECT name, value FROM audio_disc")}
    if not disc:
        return None
    tracks = [dict(zip(TRACK_COLUMNS, row)) for row in
              conn.execute(f"SELECT {', '.join(TRACK_COLUMNS)} FROM audio_tracks ORDER BY track")]
    damage = [dict(zip(DAMAGE_COLUMNS, row)) for row in
              conn.execute(f"SELECT {', '.join(DAMAGE_COLUMNS)} FROM audio_damage ORDER BY track, first_sample")]
    return {"disc": disc, "tracks": tracks, "damage": damage}


def check_audio_files(record: "Record", folder) -> tuple[bool, str, list[str]] | None:
    """The BIN, CUE and .sub against their stored SHA-1, each track's WAV samples against its
    track's (verify's "audio" check); None for a record without audio."""
    import hashlib
    from pathlib import Path

    stored = load_audio(record)
    if stored is None:
        return None
    disc, folder = stored["disc"], Path(folder)
    wanted = [(disc[k], disc.get(k + "_sha1"), 0) for k in ("bin", "cue", "sub") if disc.get(k)]
    wanted += [(t["file"], t["sha1"], 44) for t in stored["tracks"]]
    bad = []
    for name, sha1, skip in wanted:
        path = folder / name
        try:
            with open(path, "rb") as f:
                f.seek(skip)
                h = hashlib.sha1()
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            bad.append(f"{name}: cannot be read ({exc.strerror})")
            continue
        if sha1 is not None and h.hexdigest() != sha1:
            bad.append(f"{name}: sha1 {h.hexdigest()} is not the recorded {sha1}")
    if bad:
        return False, f"{len(bad)} of {len(wanted)} audio files differ from the record", bad
    return True, f"the BIN, CUE, .sub and {len(stored['tracks'])} track WAVs are the ones the record describes", []
