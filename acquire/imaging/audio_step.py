"""`acquire image` on a CD with audio tracks: after the data copy, every audio track read
sample-exact (acquire/audio/rip.py) with its read offset corrected, then the disc as the
preservation community keeps it: IMAGE.bin + IMAGE.cue (data tracks raw, each sector's EDC checked),
IMAGE.NN.wav per audio track (and .flac on request), IMAGE.toc.txt; the checksums, disc IDs, offset
and unresolved samples into the record (record/audio_tables.py) before the seal.

The ISO image stays what it is: the data tracks' user data (an audio track's sectors are not
recorded there, layout kind "audio").
"""
from __future__ import annotations

import dataclasses
import hashlib
import zlib
from pathlib import Path
from typing import Any

from ..audio import (checksums, codes as disc_codes, discid, ecma130, journal, offset as offsets, output, parts,
                     pregap as pregaps, subq)
from ..audio.rip import CDDA, TrackRipper
from ..drive.cdda import MAX_SECTORS, RAW_BYTES, CddaReader
from ..errors import UsageError
from ..record import Record
from ..record.audio_tables import load_audio, save_audio

SECTOR = 2048


def disc_key(tracks, lead_out: int) -> dict[str, Any]:
    """What identifies the disc in a kept track's key, so that another disc written to the same output
    path never takes this one's tracks: its MusicBrainz disc ID and its whole TOC (the ID leaves a
    CD-Extra's data session out; the TOC holds every track, data too, and the lead-out)."""
    toc_tracks = [discid.TocTrack(t.number, t.start, t.audio, t.session) for t in tracks]
    return {"musicbrainz_id": discid.musicbrainz_for(toc_tracks, lead_out), "lead_out": lead_out,
            "toc": [[t.number, t.session, t.start, t.end, t.audio] for t in tracks]}


def stopped(exc: BaseException) -> str:
    """The one line of a run stopped while reading audio: the image is whole, the tracks read are kept."""
    why = "interrupted by the user" if isinstance(exc, KeyboardInterrupt) else getattr(exc, "message", str(exc))
    return (f"{why} while reading the audio tracks; run the same command to resume "
            "(the tracks already read are kept; the one being read goes on from the reads kept of it)")


def has_audio(layout) -> bool:
    return layout is not None and any(t.audio for t in layout.tracks)


def run_audio(run) -> dict[str, Any]:
    """Read the audio tracks and write the files and the record rows; returns the summary for --json."""
    layout, drive, options = run.layout, run.drive, run.options
    identity = run.identity
    earlier = offset_from(options.read_offset_from, identity) if options.read_offset_from else None
    earlier = earlier or _earlier_offset(run.record, identity)
    chosen = offsets.resolve(identity.vendor, identity.product, options.read_offset, earlier)
    tracks = sorted(layout.tracks, key=lambda t: t.start)
    audio_tracks = [t for t in tracks if t.audio]
    reader = CddaReader(drive).probe(audio_tracks[0].start)
    far = 0 if audio_tracks[0].start > layout.sectors // 2 else max(layout.sectors - 1, 0)
    # the clock is each track's own: the drive time of its reads, replayed or live (_track_rip)
    ripper = TrackRipper(reader, lambda: 0.0, disc_end=layout.sectors, far_lba=far,
                         agree=options.audio_agree, budget_s=options.audio_budget_s,
                         recorded=lambda lba: any(t.start <= lba < t.end for t in tracks))
    base = run.image_path
    bin_path, cue_path, sub_path = base.with_suffix(".bin"), base.with_suffix(".cue"), base.with_suffix(".sub")
    rows, damage, cue_tracks, files = [], [], [], []
    data_figures = {"raw_sectors": 0, "edc_ok": 0, "lec_ok": 0, "rebuilt": 0}
    last_number = tracks[-1].number
    catalog_sub, isrc_sub, cd_text = _disc_codes(run.structures)
    text_blocks, text_damaged = cd_text_blocks(run.structures)
    q_found: dict[int, subq.QCodes] = {}     # track -> the MCN and ISRC its Q frames gave
    previous = None
    found_pregaps: dict[int, int] = {}         # track -> its INDEX 00 sectors, from Q
    kept = _Kept(parts.folder(base), {"offset": chosen.samples, "agree": options.audio_agree,
                                      "budget_s": options.audio_budget_s, "c2": reader.c2,
                                      "subchannel": reader.subchannel,
                                      "drive": [identity.vendor, identity.product, identity.revision],
                                      "disc": disc_key(tracks, layout.sectors)},
                 {0: 0, 1: 96, 2: 16}[reader.subchannel], base)
    kept_tracks: list[int] = []
    continued: dict[int, int] = {}           # track -> sectors its journal answered (a resume inside it)
    ctdb = checksums.CtdbSums(sum(t.end - t.start for t in audio_tracks) * 588)
    # samples before track 1's INDEX 01 are its pre-gap by definition (no other track is there): a
    # hidden track one audio, ripped whole; Q, where the drive gives it, confirms INDEX 00 there
    htoa = tracks[0].audio and tracks[0].start > 0
    htoa_q = htoa and pregaps.htoa_at(reader, tracks[0].start, CDDA)
    with open(bin_path, "wb") as bin_file, open(sub_path, "wb") as sub_file:
        if htoa:
            rip, reused = _track_rip(ripper, kept, 0, 0, tracks[0].start, chosen.samples, continued)
            kept_tracks += [0] if reused else []
            found_pregaps[tracks[0].number] = pregaps.pregap_from_q(rip.subchannel, reader.subchannel,
                                                                    tracks[0].number, tracks[0].start, 0)
            _audio_out(run, reader, rip, 0, 0, tracks[0].start, bin_file, sub_file, rows, damage, files,
                       first=False, last=False)
            htoa_silent = pregaps.is_silent(rip.pcm)
            if not reused:
                parts.save(kept.folder, 0, kept.key(0, tracks[0].start), rip, 0, tracks[0].start, kept.unit)
        for t in tracks:
            # a pre-gap that is not recorded (the link before a mixed-mode disc's first audio track)
            # is a PREGAP; the gap between sessions (lead-out, lead-in) is none: REM SESSION says it
            gap = t.start - previous.end if previous is not None and previous.session == t.session else 0
            previous = t
            if not t.audio:
                frames = _data_track(reader, run, t, bin_file, sub_file, data_figures)
                cue_tracks.append(output.CueTrack(t.number, False, frames, pregap=gap, session=t.session,
                                                  data_mode=2 if t.data_mode == 2 else 1))
                continue
            rip, reused = _track_rip(ripper, kept, t.number, t.start, t.end, chosen.samples, continued)
            kept_tracks += [t.number] if reused else []
            q_found[t.number] = subq.q_codes(rip.subchannel.values(), reader.subchannel)
            following = next((n for n in tracks if n.start == t.end), None)
            if following is not None and following.audio and following.session == t.session:
                # the next track's INDEX 00 lies in this one's sectors: its Q says where it begins
                found_pregaps[following.number] = pregaps.pregap_from_q(rip.subchannel, reader.subchannel,
                                                                        following.number, t.end, t.start)
            _audio_out(run, reader, rip, t.number, t.start, t.end, bin_file, sub_file, rows, damage, files,
                       first=t.number == tracks[0].number, last=t.number == last_number)
            rows[-1]["ctdb_crc"] = f"{ctdb.add(t.number, rip.pcm, t is audio_tracks[0], t is audio_tracks[-1]):08x}"
            if not reused:
                parts.save(kept.folder, t.number, kept.key(t.start, t.end), rip, t.start, t.end, kept.unit)
            cue_tracks.append(output.CueTrack(t.number, True, t.end - t.start, pregap=gap, session=t.session,
                                              isrc=disc_codes.preferred(q_found[t.number].isrc,
                                                                        isrc_sub.get(str(t.number))),
                                              cd_text=cd_text.get(t.number, ())))
    cue_tracks = _with_index0(cue_tracks, found_pregaps, tracks[0].start if htoa else 0)
    catalog_q = disc_codes.disc_mcn(q_found)
    isrc_q = {str(n): c.isrc for n, c in sorted(q_found.items()) if c.isrc}
    catalog = disc_codes.preferred(catalog_q, catalog_sub)
    isrc = {str(t.number): disc_codes.preferred(isrc_q.get(str(t.number)), isrc_sub.get(str(t.number)))
            for t in audio_tracks if isrc_q.get(str(t.number)) or isrc_sub.get(str(t.number))}
    cue_path.write_text(output.cue_text(bin_path.name, cue_tracks, catalog=catalog,
                                        disc_text=cd_text.get(0, ())),
                        encoding="utf-8", newline="")
    dat_path = base.with_name(base.stem + ".dat")
    roms = _dat_roms(bin_path, base.stem, cue_tracks) + [_rom(cue_path.name, cue_path.read_bytes())]
    dat_path.write_text(output.dat_text(base.stem, roms), encoding="utf-8")
    toc = [(t.number, t.session, t.start, t.audio, t.end - t.start) for t in tracks]
    toc_path = base.with_name(base.stem + ".toc.txt")
    toc_path.write_text(output.toc_text(toc, layout.sectors), encoding="ascii")
    toc_tracks = [discid.TocTrack(t.number, t.start, t.audio, t.session) for t in tracks]
    disc = {"read_offset": chosen.samples, "offset_source": chosen.source, "offset_detail": chosen.detail,
            "drive": [identity.vendor, identity.product, identity.revision],
            "c2": reader.c2, "c2_claimed": reader.c2_claimed, "subchannel": ["none", "raw P-W", "formatted Q"][reader.subchannel],
            "agree": options.audio_agree, "budget_s": options.audio_budget_s,
            "musicbrainz_id": discid.musicbrainz_for(toc_tracks, layout.sectors),
            "freedb_id": discid.freedb_id(toc_tracks, layout.sectors), "toc": toc, "lead_out": layout.sectors,
            "bin": bin_path.name, "bin_sha1": _sha1(bin_path), "sub": sub_path.name, "sub_sha1": _sha1(sub_path),
            "sub_source": {0: "none read: zero", 1: "raw P-W", 2: "formatted Q (P from its index, R-W zero)"}[
                reader.subchannel], "cue": cue_path.name, "cue_sha1": _sha1(cue_path),
            "toc_file": toc_path.name, "files": files, "dat": dat_path.name,
            "dat_roms": [[r.name, r.size, r.crc32, r.md5, r.sha1] for r in roms], "data_track": data_figures,
            "catalog": catalog, "isrc": isrc, "title": dict(cd_text.get(0, ())).get("TITLE"),
            "cd_text": {str(n): dict(pairs) for n, pairs in sorted(cd_text.items())},
            "cd_text_blocks": text_blocks, "cd_text_damaged": text_damaged,
            "catalog_q": catalog_q, "isrc_q": isrc_q, "catalog_read_sub_channel": catalog_sub,
            "isrc_read_sub_channel": isrc_sub, "codes_source": "Q frames, else READ SUB-CHANNEL",
            "codes_q_other_frames": sum(c.other_frames for c in q_found.values()),
            "codes_disagree": disc_codes.disagreements(catalog_q, catalog_sub, isrc_q, isrc_sub),
            "pregaps": {str(k): v for k, v in sorted(found_pregaps.items()) if v},
            "pregap_source": "Q subchannel (INDEX 00)" if reader.subchannel else "none: the drive gives no subchannel",
            "ctdb": ctdb.as_dict(),
            "htoa": dict(_htoa_figures(rows), silent=htoa_silent, q_index0=htoa_q) if htoa else None}
    save_audio(run.record, disc, rows, damage, run_id=run.run_id)
    parts.remove(kept.folder)                  # the record holds it all now
    return {"bin": str(bin_path), "cue": str(cue_path), "read_offset": chosen.samples,
            "offset_source": chosen.source, "musicbrainz_id": disc["musicbrainz_id"], "freedb_id": disc["freedb_id"],
            "tracks": rows, "kept_tracks": kept_tracks,
            "continued_tracks": {str(n): sectors for n, sectors in continued.items()}, "unresolved": damage,
            "unresolved_samples": sum(r["unresolved_samples"] for r in rows)}


@dataclasses.dataclass(frozen=True)
class _Kept:
    """Where this run's finished tracks are kept (acquire/audio/parts.py) and the key they are read under."""
    folder: Path
    settings: dict
    unit: int                         # subchannel bytes a sector
    base: Path

    def key(self, start: int, end: int) -> dict:
        return {**self.settings, "start": start, "end": end}

    def wav(self, number: int) -> Path:
        return self.base.with_name(f"{self.base.stem}.{number:02d}.wav")


def _track_rip(ripper: TrackRipper, kept: _Kept, number: int, start: int, end: int, offset: int,
               continued: dict[int, int]):
    """(the track's rip, whether it was kept by an earlier run that stopped): a resume reads only
    the tracks that run had not finished, and goes on inside the one it stopped in from the reads
    it journaled there (acquire/audio/journal.py; `continued`: track -> the sectors replayed)."""
    earlier = parts.load(kept.folder, number, kept.key(start, end), kept.wav(number), start, end)
    if earlier is not None:
        return earlier, True
    reads = journal.Journal(journal.path(kept.folder, number), {**kept.key(start, end), "track": number},
                            c2=ripper.reader.c2, sub_bytes=kept.unit).open()
    try:
        reader = journal.JournaledReader(ripper.reader, reads)
        rip = dataclasses.replace(ripper, reader=reader, clock=reader.clock).rip(start, end, offset)
        if reader.replayed_sectors:
            continued[number] = reader.replayed_sectors
        return rip, False
    finally:
        reads.close()


def _audio_out(run, reader: CddaReader, rip, number: int, start: int, end: int, bin_file, sub_file,
               rows: list, damage: list, files: list, *, first: bool, last: bool) -> None:
    """One ripped track (number 0: the hidden track one audio) into the BIN, the .sub, its WAV (and
    FLAC), its record row and its unresolved samples."""
    base = run.image_path
    bin_file.write(rip.pcm)
    sub_file.write(b"".join(subq.clonecd_sub(rip.subchannel.get(lba), reader.subchannel)
                            for lba in range(start, end)))
    wav = output.write_wav(base.with_name(f"{base.stem}.{number:02d}.wav"), rip.pcm)
    files.append(wav.name)
    if run.options.flac:
        files.append(output.write_flac(wav).name)
    sums = checksums.track_sums(rip.pcm, first=first, last=last)
    unresolved = sum(u.last - u.first + 1 for u in rip.unresolved)
    rows.append({"track": number, "start": start, "end": end, "file": wav.name, "bytes": len(rip.pcm),
                 "sha1": hashlib.sha1(rip.pcm).hexdigest(), "crc32": f"{sums.crc32:08x}",
                 "accuraterip_v1": f"{sums.ar_v1:08x}", "accuraterip_v2": f"{sums.ar_v2:08x}",
                 "reads": rip.reads, "rereads": rip.rereads, "c2_samples": rip.c2_samples,
                 "q_errors": rip.q_errors, "unresolved_samples": unresolved,
                 "budget_spent": int(rip.budget_spent), "elapsed_s": round(rip.elapsed_s, 3)})
    damage += [{"track": number, "first_sample": u.first, "last_sample": u.last, "time": u.time(),
                "reason": u.reason} for u in rip.unresolved]


def _htoa_figures(rows: list[dict]) -> dict:
    row = next(r for r in rows if r["track"] == 0)
    return {"sectors": row["end"] - row["start"], "file": row["file"], "sha1": row["sha1"]}


def _with_index0(cue: list[output.CueTrack], pregaps_found: dict[int, int], htoa: int) -> list[output.CueTrack]:
    """The CUE's tracks with the INDEX 00 that Q gave: a pre-gap moves from the end of the track
    before into its own track (INDEX 00 .. INDEX 01); an HTOA is track 1's INDEX 00 from 00:00:00."""
    out = list(cue)
    for i, t in enumerate(out):
        gap = htoa if i == 0 and htoa else pregaps_found.get(t.number, 0)
        if not gap or not t.audio:
            continue
        if i > 0:
            out[i - 1] = dataclasses.replace(out[i - 1], frames=out[i - 1].frames - gap)
        out[i] = dataclasses.replace(out[i], frames=t.frames + gap, index0_frames=gap)
    return out


def _data_track(reader: CddaReader, run, track, bin_file, sub_file, figures: dict[str, int]) -> int:
    """A data track's sectors raw (2352) into the BIN: READ CD, trusted when its EDC holds; else
    rebuilt from the image's user data (sync, header, EDC, L-EC parity; a mode 2 track's subheader
    taken as form 1 data, 08h) and counted. L-EC is checked too and counted, not required (a drive
    such as QEMU's gives EDC/ECC zero)."""
    saved, reader.c2 = reader.c2, False
    try:
        with open(run.image_path, "rb") as image:
            for lba in range(track.start, track.end, MAX_SECTORS):
                count = min(MAX_SECTORS, track.end - lba)
                got = reader.read(lba, count)
                for i in range(count):
                    sector = got.data[i * RAW_BYTES:(i + 1) * RAW_BYTES] if got.ok else b""
                    figures["raw_sectors"] += 1
                    if sector and ecma130.check_raw(sector).trusted:
                        figures["edc_ok"] += 1
                        figures["lec_ok"] += ecma130.lec_ok(sector)
                    else:
                        image.seek((lba + i) * SECTOR)
                        data = image.read(SECTOR).ljust(SECTOR, b"\0")
                        sector = (ecma130.mode2_form1_sector(lba + i, data) if track.data_mode == 2
                                  else ecma130.mode1_sector(lba + i, data))
                        figures["rebuilt"] += 1
                    bin_file.write(sector)
                    sub = got.sub[i] if got.ok and got.sub else None
                    sound = sub is not None and subq.q_ok(sub, lba + i, reader.subchannel)
                    sub_file.write(subq.clonecd_sub(sub if sound else None, reader.subchannel))
    finally:
        reader.c2 = saved
    return track.end - track.start


_CD_TEXT = (("TITLE", "titles"), ("PERFORMER", "performers"), ("SONGWRITER", "songwriters"))
# a block's pack type (cdtext.summary's names) -> its name in the record and the CUE (cuetools' keywords;
# the CD-TEXT ISRC is "ISRC" only in the record: the CUE's ISRC is the Q frames' or READ SUB-CHANNEL's)
_FIELDS = {"title": "TITLE", "performer": "PERFORMER", "songwriter": "SONGWRITER", "composer": "COMPOSER",
           "arranger": "ARRANGER", "message": "MESSAGE", "disc_id": "DISC_ID", "closed": "CLOSED"}


def cd_text_block(block: dict) -> dict[int, tuple[tuple[str, str], ...]]:
    """One block of the disc structure's summary as track (0 the disc) -> (FIELD, text) pairs."""
    text: dict[int, list[tuple[str, str]]] = {}
    for field, by_track in block.get("text", {}).items():
        for track, value in by_track.items():
            name = _FIELDS.get(field) or ("UPC_EAN" if int(track) == 0 else "ISRC")
            text.setdefault(int(track), []).append((name, value))
    genre = block.get("genre")
    if genre:
        text.setdefault(0, []).append(("GENRE", genre["text"] or genre["name"]))
    return {track: tuple(pairs) for track, pairs in sorted(text.items())}


def _disc_codes(structures: dict) -> tuple[str | None, dict[str, str], dict[int, tuple[tuple[str, str], ...]]]:
    """The MCN, each track's ISRC (READ SUB-CHANNEL) and block 0's CD-TEXT (track, 0 the disc, -> its
    (TITLE | PERFORMER | ... , text) pairs), where the disc has them."""
    def parsed(name: str) -> dict:
        found = structures.get(name)
        return (getattr(found, "parsed", None) or {}) if found is not None else {}
    blocks = parsed("cd_text").get("blocks")
    if blocks is not None:      # a summary of every block (a record made before keeps titles ... only)
        first = next((b for b in blocks if b["block"] == 0), {})
        return parsed("mcn").get("mcn"), dict(parsed("isrc").get("isrc", {})), cd_text_block(first)
    text: dict[int, list[tuple[str, str]]] = {}
    for command, key in _CD_TEXT:
        for track, value in parsed("cd_text").get(key, {}).items():
            text.setdefault(int(track), []).append((command, value))
    return (parsed("mcn").get("mcn"), dict(parsed("isrc").get("isrc", {})),
            {track: tuple(pairs) for track, pairs in text.items()})


def cd_text_blocks(structures: dict) -> tuple[list[dict], list[str]]:
    """Every block's fields for the record (language, encoding, track -> FIELD -> text, notes) and
    what made the CD-TEXT damaged (bad CRCs, lost packs, counts the size information does not match)."""
    found = structures.get("cd_text")
    summary = (getattr(found, "parsed", None) or {}) if found is not None else {}
    out = [{"block": b["block"], "language": b.get("language"), "language_name": b.get("language_name"),
            "encoding": b.get("encoding"),
            "text": {str(t): dict(pairs) for t, pairs in cd_text_block(b).items()}, "notes": b.get("notes", [])}
           for b in summary.get("blocks", [])]
    return out, list(summary.get("problems", []))


def offset_from(path: Path, identity) -> tuple[int, str]:
    """The offset an earlier acquisition with this drive stored (--read-offset-from RECORD)."""
    with Record.open_readonly(path) as earlier:
        found = _earlier_offset(earlier, identity)
    if found is None:
        raise UsageError(f"{path} holds no known read offset of {identity.vendor} {identity.product}",
                         hint="give a record of an audio CD read with this drive, or --read-offset SAMPLES")
    return found


def _earlier_offset(record, identity) -> tuple[int, str] | None:
    """The offset an earlier run with this drive used and stored in this record (a resume)."""
    stored = load_audio(record)
    if stored is None:
        return None
    disc = stored["disc"]
    if disc.get("drive", [None, None])[:2] != [identity.vendor, identity.product] or disc.get("offset_source") == "unknown":
        return None
    return int(disc["read_offset"]), f"{Path(record.path).name} ({disc.get('offset_source')})"


def _dat_roms(bin_path: Path, stem: str, cue_tracks: list) -> list[output.DatRom]:
    """Each track's part of the BIN, hashed as the file Redump would split it into."""
    roms = []
    with open(bin_path, "rb") as f:
        for t in cue_tracks:
            roms.append(_rom(f"{stem} (Track {t.number:02d}).bin", f.read(t.frames * RAW_BYTES)))
    return roms


def _rom(name: str, data: bytes) -> output.DatRom:
    return output.DatRom(name, len(data), f"{zlib.crc32(data) & 0xFFFFFFFF:08x}", hashlib.md5(data).hexdigest(),
                         hashlib.sha1(data).hexdigest())


def _sha1(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()
