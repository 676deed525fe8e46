"""Audio and mixed-mode discs for the simulated drive: WAVs generated here (the stdlib's wave
module writes them, so the fixture is not our own WAV writer), a data track made by genisoimage,
and the [[track]] profile that lays them out (docs/simulated-drive.md "Audio")."""
from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

SAMPLES = 588
DATA_SECTORS_GAP = 150              # the pre-gap between a mixed-mode CD's data track and its first audio track


def make_wav(path: Path, sectors: int, seed: int) -> bytes:
    """A WAV of `sectors` * 588 stereo samples, distinct per track and per sample; returns its PCM."""
    pcm = bytearray()
    for i in range(sectors * SAMPLES):
        left = int(12000 * math.sin(i * 0.013 * seed))
        right = (i * seed * 7919 + seed) % 65536 - 32768
        pcm += struct.pack("<hh", left, right)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(bytes(pcm))
    return bytes(pcm)


def make_iso(path: Path) -> bytes:
    tree = path.parent / "iso-tree"
    tree.mkdir(exist_ok=True)
    (tree / "README.TXT").write_text("the data track of a mixed-mode disc\n")
    subprocess.run(["genisoimage", "-quiet", "-V", "MIXED", "-o", str(path), str(tree)], check=True)
    return path.read_bytes()


def mixed_mode(tmp: Path, *, audio_sectors=(310, 305, 320), drive: str = "", damage: list[str] = (),
               disc: str = "", isrc: dict[int, str] | None = None) -> dict:
    """Track 1 data, tracks 2-4 audio; returns the profile path and each track's true bytes and place."""
    iso = make_iso(tmp / "data.iso")
    data_sectors = len(iso) // 2048
    start = data_sectors + DATA_SECTORS_GAP
    lines = ['[drive]', 'vendor = "LITE-ON"', 'product = "LTR-52246S"', drive, '[disc]', 'profile = "cd-rom"', disc,
             '[[track]]', 'number = 1', 'mode = "mode1"', 'start = 0', 'image = "data.iso"']
    tracks = {1: (0, data_sectors, iso)}
    for number, sectors in enumerate(audio_sectors, 2):
        pcm = make_wav(tmp / f"t{number}.wav", sectors, number)
        lines += ['[[track]]', f'number = {number}', 'mode = "audio"', f'start = {start}', f'image = "t{number}.wav"']
        if isrc and number in isrc:
            lines.append(f'isrc = "{isrc[number]}"')
        tracks[number] = (start, sectors, pcm)
        start += sectors
    for entry in damage:
        lines += ['[[damage]]', entry]
    profile = tmp / "drive.toml"
    profile.write_text("\n".join(lines) + "\n")
    return {"profile": profile, "tracks": tracks, "lead_out": start}


def cd_extra(tmp: Path, *, drive: str = "") -> dict:
    """Session 1: two audio tracks; session 2: one data track (generated content) 11,400 sectors on."""
    tracks, start = {}, 0
    lines = ['[drive]', 'vendor = "PLEXTOR"', 'product = "DVDR   PX-760A"', drive, '[disc]', 'profile = "cd-rom"']
    for number, sectors in ((1, 300), (2, 320)):
        pcm = make_wav(tmp / f"t{number}.wav", sectors, number + 4)
        lines += ['[[track]]', f'number = {number}', 'mode = "audio"', f'start = {start}', f'image = "t{number}.wav"']
        tracks[number] = (start, sectors, pcm)
        start += sectors
    data_start = start + 11_400
    lines += ['[[track]]', 'number = 3', 'session = 2', 'mode = "mode1"', f'start = {data_start}', 'sectors = 200']
    tracks[3] = (data_start, 200, None)
    profile = tmp / "extra.toml"
    profile.write_text("\n".join(lines) + "\n")
    return {"profile": profile, "tracks": tracks, "lead_out": data_start + 200, "audio_end": start}


def audio_cd(tmp: Path, *, drive: str = "read_offset = 6\noverread = true", disc: str = "",
             track_text: dict[int, str] | None = None) -> dict:
    """An audio CD with a hidden track one audio (LBA 0 to track 1's start: track 1's INDEX 00 with
    its own samples), track_text: extra [[track]] lines (CD-TEXT), track 2's pre-gap of 75 sectors and track 3's of 150 inside the track before
    (their samples are that track's: gaps appended, as on the disc), ISRCs, an MCN and CD-Text."""
    htoa_sectors, sizes, pregaps = 300, {1: 300, 2: 310, 3: 305}, {2: 75, 3: 150}
    htoa = make_wav(tmp / "htoa.wav", htoa_sectors, 11)
    lines = ['[drive]', 'vendor = "LITE-ON"', 'product = "LTR-52246S"', drive, '[disc]', 'profile = "cd-rom"',
             'mcn = "0724384260927"', 'cd_text_title = "Hidden Things"', disc]
    tracks, start = {0: (0, htoa_sectors, htoa)}, htoa_sectors
    for number, sectors in sizes.items():
        pcm = make_wav(tmp / f"t{number}.wav", sectors, number)
        lines += ['[[track]]', f'number = {number}', 'mode = "audio"', f'start = {start}', f'image = "t{number}.wav"',
                  f'isrc = "USRC1760783{number}"']
        lines += [(track_text or {}).get(number, "")]
        if number == 1:
            lines += [f'pregap = {htoa_sectors}', 'pregap_image = "htoa.wav"']
        else:
            lines.append(f'pregap = {pregaps[number]}')
        tracks[number] = (start, sectors, pcm)
        start += sectors
    profile = tmp / "audio.toml"
    profile.write_text("\n".join(lines) + "\n")
    return {"profile": profile, "tracks": tracks, "lead_out": start, "pregaps": {1: htoa_sectors, **pregaps}}
