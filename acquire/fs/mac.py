"""Mac volumes found in the system area (fs/systemarea.py), read in full: HFS, HFS+, and HFS+ inside
an HFS wrapper. A volume whose first header is unreadable is still looked for through its alternate
copy: in an Apple partition map's HFS partition, or at the image's end for a bare volume."""
from __future__ import annotations

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from . import hfs, hfsplus
from .hfs_btree import bytes_readable
from .reader import SectorReader

KINDS = ("hfs", "hfsplus")
Found = tuple[str, str | None, dict]


def with_unread_volumes(reader: SectorReader, found: list[Found]) -> list[Found]:
    """`found`, plus an entry for each HFS partition (or bare volume) whose header could not be read
    but whose alternate copy may be: the probe of the system area skips those."""
    seen = {d.get("offset_bytes") for kind, _, d in found if kind in KINDS}
    out = list(found)
    apm = next((d for kind, _, d in found if kind == "apm"), None)
    if apm is not None:
        for p in apm["partitions"]:
            if "HFS" in p["type"].upper() and p["offset_bytes"] not in seen:
                out.append(("hfs", None, {"offset_bytes": p["offset_bytes"], "apm_partition": p["number"],
                                          "header_unreadable": True}))
    elif not seen and reader.sectors and not bytes_readable(reader, 1024, 512):
        out.append(("hfs", None, {"offset_bytes": 0, "header_unreadable": True}))
    return out


def _partition_length(found: list[Found], details: dict) -> int | None:
    number = details.get("apm_partition")
    for kind, _, d in found:
        if kind == "apm":
            for p in d["partitions"]:
                if p["number"] == number:
                    return p["blocks"] * d["block_size"]
    return None


def read_volume(reader: SectorReader, fs_id: int, kind: str, details: dict,
                found: list[Found]) -> tuple[Filesystem, list[FileEntry], list[Unreadable]] | None:
    """The volume a system-area entry points at, with its files; None when no header copy reads."""
    offset, length = details["offset_bytes"], _partition_length(found, details)
    extra = {k: v for k, v in details.items() if k in ("apm_partition",)}
    if kind == "hfs":
        if bytes_readable(reader, offset + 1024, 512):
            inner = hfsplus.embedded_offset(reader.read_bytes(offset + 1024, 512), offset)
            if inner is not None:          # the HFS wrapper's embedded HFS+ volume holds the files
                return hfsplus.read_hfsplus(reader, fs_id, inner, details={**extra, "hfs_wrapper_offset": offset})
        result = hfs.read_hfs(reader, fs_id, offset, length=length, details=extra)
        if result is None and details.get("header_unreadable"):
            result = hfsplus.read_hfsplus(reader, fs_id, offset, length=length, details=extra)
        return result
    return hfsplus.read_hfsplus(reader, fs_id, offset, length=length, details=extra)
