"""The files an audio or mixed-mode CD is kept in: one BIN for the disc with its CUE sheet
(MODE1/2352 data tracks, AUDIO tracks; INDEX 00/01, PREGAP for a pre-gap not in the BIN, ISRC,
CATALOG, FLAGS), a WAV per audio track (canonical 44-byte RIFF header) and, on request, FLAC (Debian's
`flac` encoder, --verify), and the TOC as text.

CUE sheet syntax as CDRWIN defines it and cdrdao/bchunk read it: times are mm:ss:ff, frames of 1/75 s,
counted from the start of the FILE.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import AcquireError

FRAME_BYTES = 2352


def msf_text(frames: int) -> str:
    return f"{frames // 4500:02d}:{frames // 75 % 60:02d}:{frames % 75:02d}"


def wav_header(data_bytes: int) -> bytes:
    """RIFF/WAVE, PCM, 2 channels, 44,100 Hz, 16 bits (the only format CD-DA is)."""
    # "RIFF" size "WAVE" | "fmt " 16 | format 1, channels 2, rate, byte rate, block align 4, bits 16 | "data" size
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
            + b"data" + struct.pack("<I", data_bytes))


def write_wav(path: Path, pcm: bytes) -> Path:
    """The track's WAV, on the disk before its part (audio/parts.py) replaces its journaled reads."""
    with open(path, "wb") as f:
        f.write(wav_header(len(pcm)))
        f.write(pcm)
        f.flush()
        os.fsync(f.fileno())
    return path


def write_flac(wav: Path) -> Path:
    """FLAC beside `wav` with Debian's `flac` (its --verify decodes what it wrote and compares)."""
    exe = shutil.which("flac")
    if exe is None:
        raise AcquireError("flac is not installed", hint="apt-get install flac, or leave out --flac")
    out = wav.with_suffix(".flac")
    done = subprocess.run([exe, "--silent", "--verify", "--force", "-o", str(out), str(wav)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise AcquireError(f"flac could not encode {wav.name}: {done.stderr.strip()[:200]}")
    return out


@dataclass(frozen=True, slots=True)
class CueTrack:
    number: int
    audio: bool
    frames: int                       # sectors of this track in the BIN (its INDEX 00 part included)
    index0_frames: int = 0            # of those, the pre-gap before INDEX 01 that the BIN holds
    pregap: int = 0                   # a pre-gap the BIN does not hold (PREGAP: not recorded, or silence)
    isrc: str | None = None
    preemphasis: bool = False
    copy_permitted: bool = False
    four_channel: bool = False
    session: int = 1                  # "REM SESSION NN" before a session's first track, on a multisession disc
    data_mode: int = 1                # a data track's mode: MODE1/2352 or MODE2/2352
    cd_text: tuple[tuple[str, str], ...] = ()   # (TITLE | PERFORMER | ... , text) from CD-TEXT block 0


# the CD-TEXT commands a CUE holds: CDRWIN's TITLE, PERFORMER, SONGWRITER, and those cuetools (libcue's
# ancestor: cdtext.h) also reads; shntool 3.0.10 reads past them, bchunk ignores them. The CD-TEXT's
# own ISRC and closed information stay in the record (the CUE's ISRC is the Q frames').
CUE_TEXT_COMMANDS = ("TITLE", "PERFORMER", "SONGWRITER", "COMPOSER", "ARRANGER", "MESSAGE", "DISC_ID", "GENRE",
                     "UPC_EAN")


def cue_string(text: str) -> str:
    """A CD-TEXT string as a CUE command's quoted argument. CDRWIN's format has no escape, so a
    double quote becomes an apostrophe and a control character a space (the record keeps the text
    as read); an empty string stays empty."""
    plain = "".join(" " if ord(c) < 0x20 or c == "\x7f" else c for c in text).replace('"', "'")
    return f'"{plain}"'


def _text_lines(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]], indent: str) -> list[str]:
    return [f"{indent}{command} {cue_string(text)}" for command, text in pairs if text and command in CUE_TEXT_COMMANDS]


def cue_text(bin_name: str, tracks: list[CueTrack], *, catalog: str | None = None,
             disc_text: tuple[tuple[str, str], ...] = ()) -> str:
    lines = []
    if catalog:
        lines.append(f"CATALOG {catalog}")
    lines += _text_lines(disc_text, "")
    lines.append(f'FILE "{bin_name}" BINARY')
    at, sessions, session = 0, len({t.session for t in tracks}), 0
    for t in tracks:
        if sessions > 1 and t.session != session:
            session = t.session
            lines.append(f"  REM SESSION {session:02d}")
        lines.append(f"  TRACK {t.number:02d} {'AUDIO' if t.audio else f'MODE{t.data_mode}/2352'}")
        flags = [name for name, on in (("DCP", t.copy_permitted), ("4CH", t.four_channel),
                                       ("PRE", t.preemphasis)) if on]
        lines += _text_lines(t.cd_text, "    ")
        if flags:
            lines.append(f"    FLAGS {' '.join(flags)}")
        if t.isrc:
            lines.append(f"    ISRC {t.isrc}")
        if t.pregap:
            lines.append(f"    PREGAP {msf_text(t.pregap)}")
        if t.index0_frames:
            lines.append(f"    INDEX 00 {msf_text(at)}")
        lines.append(f"    INDEX 01 {msf_text(at + t.index0_frames)}")
        at += t.frames
    return "\r\n".join(lines) + "\r\n"


def toc_text(tracks: list[tuple[int, int, int, bool, int]], lead_out: int) -> str:
    """(number, session, start LBA, audio, sectors) per track and the lead-out: one line each."""
    out = ["track session start_lba sectors type start_msf"]
    for number, session, start, audio, sectors in tracks:
        out.append(f"{number:>5} {session:>7} {start:>9} {sectors:>7} {'audio' if audio else 'data '} "
                   f"{msf_text(start + 150)}")
    out.append(f"{'AA':>5} {'':>7} {lead_out:>9} {'':>7} {'lead-out':5} {msf_text(lead_out + 150)}")
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class DatRom:
    """One track of the BIN as Redump's DATs list it: its own file of 2352-byte sectors."""
    name: str
    size: int
    crc32: str
    md5: str
    sha1: str


def dat_text(game: str, roms: list[DatRom]) -> str:
    """A Redump-style (Logiqx XML) DAT entry: one <rom> per track file and the CUE."""
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    lines = ['<?xml version="1.0"?>', "<datafile>", f'\t<game name="{esc(game)}">', f"\t\t<description>{esc(game)}</description>"]
    lines += [f'\t\t<rom name="{esc(r.name)}" size="{r.size}" crc="{r.crc32}" md5="{r.md5}" sha1="{r.sha1}"/>'
              for r in roms]
    lines += ["\t</game>", "</datafile>"]
    return "\n".join(lines) + "\n"
