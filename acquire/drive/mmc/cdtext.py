"""CD-TEXT (READ TOC format 5): every pack type of every language block, decoded without trusting
the disc (a crafted disc's packs give a "damaged" result, never an exception).

Layout (MMC-6 annex J / Red Book CD-TEXT; pack types, genre codes and character codes as libburn's
doc/cdtext.txt and libcdio's include/cdio/cdtext.h name them). A pack is 18 bytes:
  byte 0      pack type: 80h title .. 85h message, 86h disc ID, 87h genre, 88h TOC, 89h TOC2,
              8Dh closed (for the content provider), 8Eh UPC/EAN (track 0) and ISRC, 8Fh size information
  byte 1      bit 7 extension flag; bits 6-0 track number (0: the disc) of the pack's first character
  byte 2      sequence number (0-255, over all packs of a block)
  byte 3      bit 7 DBCC (double-byte characters); bits 6-4 block number (0-7); bits 3-0 character
              position: how many characters of that string earlier packs hold (15: 15 or more)
  bytes 4-15  12 text or binary bytes
  bytes 16-17 CRC-16 (x^16 + x^12 + x^5 + 1, initial 0) of bytes 0-15, inverted, big-endian
Text runs on across the packs of one type: each string ends in NUL (two NULs in a double-byte
block), a string that is one TAB (two TABs) means "the same as the track before". Size information
(8Fh: three packs, track numbers 0, 1, 2) holds 36 bytes: 0 character code, 1 first track, 2 last
track, 3 copyright flags, 4-19 pack count of each type 80h-8Fh, 20-27 last sequence number of each
block 0-7, 28-35 language code of each block 0-7.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

CD_TEXT_PACK_BYTES = 18
MAX_PACKS = 8 * 256                     # 8 blocks of 256 sequence numbers: the most a disc can hold
MAX_TRACK = 99
TEXT_TYPES = {0x80: "title", 0x81: "performer", 0x82: "songwriter", 0x83: "composer", 0x84: "arranger",
              0x85: "message", 0x86: "disc_id", 0x8D: "closed", 0x8E: "upc_isrc"}
GENRE, TOC, TOC2, SIZE_INFORMATION = 0x87, 0x88, 0x89, 0x8F
BINARY_TYPES = {TOC: "toc", TOC2: "toc2"}
CD_TEXT_TYPES = {**TEXT_TYPES, GENRE: "genre", **BINARY_TYPES, SIZE_INFORMATION: "size_information"}
# 8Fh byte 0 (libburn doc/cdtext.txt, libcdio cdtext.h): what the text bytes of the block are
CHARACTER_CODES = {0x00: "iso-8859-1", 0x01: "ascii", 0x80: "ms-jis", 0x81: "korean", 0x82: "mandarin"}
DOUBLE_BYTE_CODES = {0x80, 0x81, 0x82}
# 86h disc ID and 8Eh UPC/EAN, ISRC are ASCII whatever the block's code; 8Dh is ISO 8859-1 (libburn)
_FIXED_CODE = {0x86: 0x01, 0x8E: 0x01, 0x8D: 0x00}
# 8Fh bytes 28-35: EBU Tech 3264 language codes (the common ones, as libcdio's cdtext.h names them)
LANGUAGES = {0x08: "German", 0x09: "English", 0x0A: "Spanish", 0x0F: "French", 0x15: "Italian", 0x1D: "Dutch",
             0x56: "Russian", 0x65: "Korean", 0x69: "Japanese", 0x75: "Chinese"}
# 87h bytes 0-1 (big-endian): the genre code (libcdio cdtext.h cdtext_genre_t)
GENRES = ("not used", "not defined", "Adult Contemporary", "Alternative Rock", "Childrens Music", "Classical",
          "Contemporary Christian", "Country", "Dance", "Easy Listening", "Erotic", "Folk", "Gospel", "Hip Hop",
          "Jazz", "Latin", "Musical", "New Age", "Opera", "Operetta", "Pop Music", "RAP", "Reggae", "Rock Music",
          "Rhythm & Blues", "Sound Effects", "Soundtrack", "Spoken Word", "World Music")


@dataclass(frozen=True, slots=True)
class CdTextPack:
    type: int                   # 80h title ... 8Fh size information
    track: int                  # bits 6-0; 0: the disc
    sequence: int
    block: int                  # bits 6-4: the language block
    position: int               # bits 3-0: characters of a string begun in earlier packs
    text: bytes                 # 12 bytes
    crc_ok: bool
    double_byte: bool = False   # byte 3 bit 7 (DBCC)


def crc16(data: bytes) -> int:
    """CRC-16 with x^16 + x^12 + x^5 + 1, initial 0 (the CD-TEXT pack CRC, sent inverted)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def split_packs(body: bytes) -> tuple[CdTextPack, ...]:
    """The whole 18-byte packs of a READ TOC format 5 body (after its 4-byte header), CRC checked;
    at most MAX_PACKS (a crafted answer cannot make the work grow past what a disc can hold)."""
    packs = []
    for at in range(0, min(len(body), MAX_PACKS * CD_TEXT_PACK_BYTES) - CD_TEXT_PACK_BYTES + 1, CD_TEXT_PACK_BYTES):
        pack = body[at:at + CD_TEXT_PACK_BYTES]
        crc = struct.unpack_from(">H", pack, 16)[0]
        packs.append(CdTextPack(pack[0], pack[1] & 0x7F, pack[2], (pack[3] >> 4) & 0x07, pack[3] & 0x0F,
                                bytes(pack[4:16]), crc16(pack[:16]) ^ 0xFFFF == crc, bool(pack[3] & 0x80)))
    return tuple(packs)


def from_body(body: bytes) -> "CdText":
    """The packs of a format 5 body, with a note where it holds more than a disc can."""
    packs = split_packs(body)
    over = len(body) // CD_TEXT_PACK_BYTES - len(packs)
    return CdText(packs, (f"{over} pack(s) past the {MAX_PACKS} a disc can hold (8 blocks of 256) ignored",)
                  if over else ())


@dataclass(frozen=True, slots=True)
class SizeInformation:
    character_code: int
    first_track: int
    last_track: int
    copyright: int
    pack_counts: dict[int, int]         # pack type 80h-8Fh -> packs of it in this block
    last_sequence: dict[int, int]       # block -> its last sequence number (blocks that exist)
    languages: dict[int, int]           # block -> its language code (EBU Tech 3264: 09h English, 08h German)


def size_information(packs: list[CdTextPack]) -> SizeInformation | None:
    """A block's 8Fh packs (track numbers 0, 1, 2) as one 36-byte record; None unless all three are sound."""
    parts = {p.track: p.text for p in packs if p.type == SIZE_INFORMATION and p.crc_ok}
    if not {0, 1, 2} <= set(parts):
        return None
    data = parts[0] + parts[1] + parts[2]
    last = {b: data[20 + b] for b in range(8) if b == 0 or data[20 + b]}
    return SizeInformation(data[0], data[1], data[2], data[3], {0x80 + i: data[4 + i] for i in range(16)},
                           last, {b: data[28 + b] for b in last})


@dataclass(frozen=True, slots=True)
class CdTextBlock:
    block: int
    character_code: int | None          # from 8Fh; None: no sound size information (ISO 8859-1 assumed)
    language: int | None
    size: SizeInformation | None
    text: dict[str, dict[int, str]]     # title ... upc_isrc -> track (0: the disc) -> text (hex: not decoded)
    genre: tuple[int, str, str] | None  # (code, its name, the text after it)
    binary: dict[str, dict[int, str]]   # toc, toc2 -> track field of the pack -> its 12 bytes in hex
    packs: int
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CdText:
    packs: tuple[CdTextPack, ...]
    notes: tuple[str, ...] = field(default=())

    def strings(self, kind: int = 0x80, block: int = 0) -> dict[int, str]:
        """track (0: the disc) -> text of that kind in that block, from the packs whose CRC checks."""
        found = decode_block(self.packs, block)
        return dict(found.text.get(CD_TEXT_TYPES.get(kind, ""), {}))

    @property
    def bad_crc(self) -> int:
        return sum(not p.crc_ok for p in self.packs)

    def blocks(self) -> list[CdTextBlock]:
        return [decode_block(self.packs, b) for b in sorted({p.block for p in self.packs if p.crc_ok})]


def decode_block(packs: tuple[CdTextPack, ...] | list[CdTextPack], block: int) -> CdTextBlock:
    """One language block: its size information, then each pack type's strings in its character code."""
    mine = [p for p in packs if p.block == block]
    notes: list[str] = []
    size = size_information(mine)
    code = size.character_code if size else None
    if size is None:
        notes.append("no sound size information (8Fh): ISO 8859-1 assumed")
    elif code not in CHARACTER_CODES:
        notes.append(f"character code {code:02X}h is none MMC names: kept as bytes (hex)")
    elif code in DOUBLE_BYTE_CODES:
        notes.append(f"character code {code:02X}h ({CHARACTER_CODES[code]}): double-byte text kept as bytes (hex), "
                     "not decoded")
    sound = [p for p in mine if p.crc_ok]
    text: dict[str, dict[int, str]] = {}
    for kind, name in TEXT_TYPES.items():
        of_kind = [p for p in sound if p.type == kind]
        if of_kind:
            strings = _strings(of_kind, _FIXED_CODE.get(kind, code), notes, name)
            if strings:
                text[name] = strings
    genre = _genre([p for p in sound if p.type == GENRE])
    binary = {name: {p.track: p.text.hex() for p in sorted(sound, key=lambda p: p.sequence) if p.type == kind}
              for kind, name in BINARY_TYPES.items() if any(p.type == kind for p in sound)}
    if size is not None:
        counted = {k: sum(p.type == k for p in mine) for k in size.pack_counts}
        differ = [f"{k:02X}h" for k, n in size.pack_counts.items() if counted[k] != n]
        if differ:
            notes.append("size information counts other packs than the block holds for " + ", ".join(differ))
    bad = sum(not p.crc_ok for p in mine)
    if bad:
        notes.append(f"{bad} pack(s) with a bad CRC skipped")
    return CdTextBlock(block, code, size.languages.get(block) if size else None, size, text, genre, binary,
                       len(mine), tuple(notes))


def _runs(packs: list[CdTextPack]) -> list[list[CdTextPack]]:
    """Packs in sequence order (one of each number), cut where a sequence number is missing."""
    by_sequence = {p.sequence: p for p in sorted(packs, key=lambda p: p.sequence)}
    runs: list[list[CdTextPack]] = []
    for sequence in sorted(by_sequence):
        if runs and runs[-1][-1].sequence == sequence - 1:
            runs[-1].append(by_sequence[sequence])
        else:
            runs.append([by_sequence[sequence]])
    return runs


def _strings(packs: list[CdTextPack], code: int | None, notes: list[str], name: str) -> dict[int, str]:
    """track -> string of one pack type. A run that begins inside a string (packs before it lost)
    drops that partial string; a TAB string is the track before's."""
    double = code in DOUBLE_BYTE_CODES or any(p.double_byte for p in packs)
    end, tab = (b"\x00\x00", b"\t\t") if double else (b"\x00", b"\t")
    out: dict[int, str] = {}
    for run in _runs(packs):
        joined = b"".join(p.text for p in run)
        track = run[0].track
        pieces = _split(joined, end)
        if run[0].position:
            # the start of this string is in packs we do not have: the piece is not the whole string
            notes.append(f"{name}: track {track}'s string begins in a lost pack: left out")
            pieces, track = pieces[1:], track + 1
        # the last piece is padding after the last NUL, or a string that goes on in lost packs
        for piece in pieces[:-1]:
            if track > MAX_TRACK:
                break
            if piece == tab:
                if track - 1 in out:
                    out[track] = out[track - 1]
            elif piece:
                out[track] = _decode(piece, code, double)
            track += 1
        if pieces and pieces[-1] and track <= MAX_TRACK:
            notes.append(f"{name}: track {track}'s string goes on in a lost pack: left out")
    return out


def _split(joined: bytes, end: bytes) -> list[bytes]:
    """Cut at each terminator; a double-byte terminator counts only on a character boundary."""
    if len(end) == 1:
        return joined.split(end)
    pieces, start = [], 0
    for at in range(0, len(joined) - 1, 2):
        if joined[at:at + 2] == end:
            pieces.append(joined[start:at])
            start = at + 2
    pieces.append(joined[start:])
    return pieces


def _decode(piece: bytes, code: int | None, double: bool) -> str:
    """ISO 8859-1 and ASCII as text (an ASCII block with 8-bit bytes read as ISO 8859-1, as libcdio
    does: some discs announce ASCII and hold Latin-1); any other code as hex, the bytes as read."""
    if double or code not in (None, 0x00, 0x01):
        return piece.hex()
    return piece.decode("latin-1")


def _genre(packs: list[CdTextPack]) -> tuple[int, str, str] | None:
    """87h: a two-byte genre code, then its text (NUL-ended), over the disc's genre packs in sequence."""
    runs = _runs(packs)
    if not runs or runs[0][0].position:
        return None
    joined = b"".join(p.text for p in runs[0])
    code = struct.unpack_from(">H", joined, 0)[0]
    name = GENRES[code] if code < len(GENRES) else f"code {code}"
    return code, name, joined[2:].split(b"\x00")[0].decode("latin-1")


def summary(text: CdText) -> dict[str, Any]:
    """What the record keeps of the CD-TEXT (docs/record.md "Disc structures"): block 0's title,
    performer and songwriter as before (older records and readers), every block's fields beside,
    and "damaged" with the reasons where packs failed their CRC or disagree with the size information."""
    blocks = text.blocks()
    first = next((b for b in blocks if b.block == 0), None)
    plain = (lambda key: {str(k): v for k, v in first.text.get(key, {}).items()}) if first else (lambda key: {})
    problems = list(text.notes) + [f"block {b.block}: {n}" for b in blocks for n in b.notes
                                   if "bad CRC" in n or "lost pack" in n or "counts other" in n or "past the" in n]
    if text.bad_crc and not any("bad CRC" in p for p in problems):
        problems.append(f"{text.bad_crc} pack(s) with a bad CRC skipped")
    return {"packs": len(text.packs), "bad_crc": text.bad_crc,
            "titles": plain("title"), "performers": plain("performer"), "songwriters": plain("songwriter"),
            "blocks": [_block_summary(b) for b in blocks], "damaged": bool(problems), "problems": problems}


def _block_summary(b: CdTextBlock) -> dict[str, Any]:
    size = None if b.size is None else {
        "first_track": b.size.first_track, "last_track": b.size.last_track, "copyright": b.size.copyright,
        "pack_counts": {f"{k:02X}h": n for k, n in b.size.pack_counts.items() if n},
        "last_sequence": {str(k): v for k, v in b.size.last_sequence.items()},
        "languages": {str(k): v for k, v in b.size.languages.items()}}
    return {"block": b.block, "character_code": b.character_code,
            "encoding": CHARACTER_CODES.get(b.character_code, "unknown") if b.character_code is not None
            else "iso-8859-1 (assumed)", "language": b.language,
            "language_name": LANGUAGES.get(b.language, "unknown") if b.language is not None else None, "size_information": size,
            "text": {k: {str(t): s for t, s in v.items()} for k, v in b.text.items()},
            "genre": None if b.genre is None else {"code": b.genre[0], "name": b.genre[1], "text": b.genre[2]},
            "binary": {k: {str(t): h for t, h in v.items()} for k, v in b.binary.items()},
            "packs": b.packs, "notes": list(b.notes)}
