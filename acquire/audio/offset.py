"""The read offset of a drive, and its correction: where a drive's audio stream is shifted.

A drive with read offset correction c (AccurateRip's sign: "+6" for most LITE-ON drives) delivers,
at sample position p, the disc's sample p - c; the true sample s is read at s + c. Sources, in
order: `--read-offset`, the record of an earlier acquisition with the same drive (vendor, product,
revision), the table below, else 0 with source "unknown" (the record says so; the audio is then
not comparable with AccurateRip until the offset is known).

The table is a small representative subset of the AccurateRip drive offset list
(accuraterip.com/driveoffsets.htm), as its values were quoted for these drives in the redump.org
forum, post 45164 (2013-08-23, "known working" drives with their offsets) and post 21024 (LG
GSA-H55N +102); checked 2026-12-02. Models are matched within the INQUIRY product string.
"""
from __future__ import annotations

from dataclasses import dataclass

TABLE_SOURCE = "AccurateRip drive offset list (subset, via redump.org forum posts 45164 and 21024; 2026-12-02)"
# (INQUIRY vendor, a model in the INQUIRY product) -> read offset correction in samples
DRIVE_OFFSETS: dict[tuple[str, str], int] = {
    ("PLEXTOR", "PX-760A"): 30,
    ("PLEXTOR", "PX-716SA"): 30,
    ("PLEXTOR", "PX-W5224A"): 30,
    ("PLEXTOR", "PX-W4824"): 30,
    ("PLEXTOR", "PX-W4012TA"): 98,
    ("PLEXTOR", "PX-W1610TA"): 99,
    ("PLEXTOR", "PX-W1210TA"): 99,
    ("LITE-ON", "LTR-48246S"): 6,
    ("LITE-ON", "LTR-52246S"): 6,
    ("LITE-ON", "LH-20A1H"): 6,
    ("BENQ", "DW1655"): 618,
    ("ASUS", "DRW-2014L1"): 6,
    ("ASUS", "BW-16D1HT"): 6,
    ("YAMAHA", "CRW-F1"): 733,
    ("OPTIARC", "SA-7290H5"): 48,
    ("HL-DT-ST", "GSA-H55N"): 102,
}
SOURCES = ("option", "earlier-record", "table", "unknown")


@dataclass(frozen=True, slots=True)
class ReadOffset:
    samples: int
    source: str              # one of SOURCES
    detail: str = ""         # the table's citation, or the earlier record's path


def from_table(vendor: str, product: str) -> int | None:
    v, p = vendor.strip().upper(), product.strip().upper()
    for (tv, model), offset in DRIVE_OFFSETS.items():
        if v == tv and model in p:
            return offset
    return None


def resolve(vendor: str, product: str, option: int | None = None,
            earlier: tuple[int, str] | None = None) -> ReadOffset:
    """The offset to correct by and where it came from (see the module docstring)."""
    if option is not None:
        return ReadOffset(option, "option", "--read-offset")
    if earlier is not None:
        return ReadOffset(earlier[0], "earlier-record", earlier[1])
    found = from_table(vendor, product)
    if found is not None:
        return ReadOffset(found, "table", TABLE_SOURCE)
    return ReadOffset(0, "unknown", "not in the table; give --read-offset")


def drive_span(first_sample: int, count: int, offset: int) -> tuple[int, int]:
    """(first LBA, sectors) to read so that the true samples [first, first+count) are delivered."""
    start = first_sample + offset
    first_lba = start // 588
    last_lba = (start + count - 1) // 588
    return first_lba, last_lba - first_lba + 1
