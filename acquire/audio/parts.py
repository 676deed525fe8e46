"""Each audio track's rip kept as soon as it is done, so that a run killed inside the audio step
(kill -9, a power cut, a drive lost) resumes with the tracks it had read, not from the first; the
track it was reading goes on from its journaled reads (NN.reads, acquire/audio/journal.py), which a
kept part replaces.

IMAGE-stem.audio-parts/NN.json (what the rip found: reads, re-reads, C2 and Q figures, the
unresolved runs, the PCM's SHA-1, and the key it was read under) and NN.subq (each sector's
subchannel as read: a presence byte, then 16 or 96 bytes) beside the track's WAV, which holds the
samples. The JSON is written last and durably, so a part is whole or absent; a part is taken only
when its key (the disc's MusicBrainz ID and TOC, span, read offset, agreement, budget, drive, C2
and subchannel) is this run's and
the WAV's samples still hash to its SHA-1; else the track is read again. The folder is removed
once the record holds the audio figures.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from ..durable import write_durably
from . import journal
from .rip import TrackRip, Unresolved

WAV_HEADER = 44


def folder(image_path: Path) -> Path:
    return image_path.with_name(image_path.stem + ".audio-parts")


def save(where: Path, number: int, key: dict[str, Any], rip: TrackRip, start: int, end: int, unit: int) -> None:
    """Keep one track's rip (its WAV already written) under `key`."""
    where.mkdir(exist_ok=True)
    subs = bytearray()
    for lba in range(start, end):
        sub = rip.subchannel.get(lba)
        subs += b"\1" + sub if sub is not None and len(sub) == unit else bytes(1 + unit)
    write_durably(where / f"{number:02d}.subq", bytes(subs))
    write_durably(where / f"{number:02d}.json", json.dumps({
        "key": key, "sha1": hashlib.sha1(rip.pcm).hexdigest(), "unit": unit,
        "unresolved": [[u.first, u.last, u.reason] for u in rip.unresolved], "reads": rip.reads,
        "rereads": rip.rereads, "c2_samples": rip.c2_samples, "q_errors": rip.q_errors,
        "budget_spent": rip.budget_spent, "elapsed_s": rip.elapsed_s}, sort_keys=True))
    journal.path(where, number).unlink(missing_ok=True)      # the part holds what its reads gave


def load(where: Path, number: int, key: dict[str, Any], wav: Path, start: int, end: int) -> TrackRip | None:
    """The kept rip of track `number` when it was read under `key` and its WAV is intact, else None."""
    try:
        kept = json.loads((where / f"{number:02d}.json").read_text())
        pcm = wav.read_bytes()[WAV_HEADER:]
        subs = (where / f"{number:02d}.subq").read_bytes()
    except (OSError, ValueError):
        return None
    unit = kept.get("unit", 0)
    if kept.get("key") != key or hashlib.sha1(pcm).hexdigest() != kept.get("sha1") \
            or len(subs) != (end - start) * (1 + unit):
        return None
    subchannel = {}
    for i, lba in enumerate(range(start, end)):
        record = subs[i * (1 + unit):(i + 1) * (1 + unit)]
        if record[:1] == b"\1":
            subchannel[lba] = bytes(record[1:])
    return TrackRip(pcm, tuple(Unresolved(*u) for u in kept["unresolved"]), kept["reads"], kept["rereads"],
                    kept["c2_samples"], kept["q_errors"], kept["budget_spent"], kept["elapsed_s"], subchannel)


def remove(where: Path) -> None:
    shutil.rmtree(where, ignore_errors=True)
