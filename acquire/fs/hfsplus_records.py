"""HFS+ structures as bytes (Apple TN1150, all big-endian): the volume header, catalog keys and
records, extents overflow keys. Decoding only; the walk is fs/hfsplus.py."""
from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

HFSPLUS_SIGNATURES = (b"H+", b"HX")
HFS_EPOCH = datetime(1904, 1, 1, tzinfo=timezone.utc)
FOLDER, FILE, FOLDER_THREAD, FILE_THREAD = 1, 2, 3, 4          # kHFSPlusFolderRecord ... (TN1150)
ROOT_PARENT_ID, ROOT_FOLDER_ID = 1, 2
EXTENTS_FILE_ID, CATALOG_FILE_ID = 3, 4
HARD_LINK_TYPE, HARD_LINK_CREATOR = b"hlnk", b"hfs+"
PRIVATE_DATA = "\0\0\0\0HFS+ Private Data"
INVISIBLE = 0x4000                                              # Finder flag kIsInvisible


def hfs_date(seconds: int, *, local: bool = False) -> str | None:
    """Seconds since 1904-01-01: UTC in HFS+ (TN1150 "HFS Plus Dates"), local time in classic HFS and
    in the HFS+ volume header's createDate, where the zone was never recorded (no suffix then)."""
    if not seconds:
        return None
    moment = HFS_EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("" if local else "Z")


def extents(raw: bytes, count: int, width: int = 4) -> tuple[tuple[int, int], ...]:
    """An extent record: `count` (startBlock, blockCount) pairs, u32 each in HFS+ (u16 in HFS)."""
    fmt = ">II" if width == 4 else ">HH"
    out = []
    for i in range(count):
        start, blocks = struct.unpack_from(fmt, raw, 2 * width * i)
        if blocks:
            out.append((start, blocks))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ForkData:
    """HFSPlusForkData (80 bytes): 0-7 logicalSize, 8-11 clumpSize, 12-15 totalBlocks, 16-79 eight
    HFSPlusExtentDescriptors (startBlock u32, blockCount u32)."""

    logical_size: int
    total_blocks: int
    extents: tuple[tuple[int, int], ...]


def fork_data(raw: bytes) -> ForkData:
    size, _clump, blocks = struct.unpack_from(">QII", raw, 0)
    return ForkData(size, blocks, extents(raw[16:80], 8))


@dataclass(frozen=True, slots=True)
class VolumeHeader:
    """HFSPlusVolumeHeader, 1024 bytes into the volume (its copy: 1024 bytes before the volume's end)."""

    # 0-1 signature 'H+' (or 'HX' case-sensitive), 2-3 version (4; 5 for HX), 4-7 attributes,
    # 8-11 lastMountedVersion, 12-15 journalInfoBlock, 16-19 createDate (local time), 20-23 modifyDate,
    # 24-27 backupDate, 28-31 checkedDate (UTC), 32-35 fileCount, 36-39 folderCount, 40-43 blockSize,
    # 44-47 totalBlocks, 48-51 freeBlocks, 52-55 nextAllocation, 56-59 rsrcClumpSize, 60-63
    # dataClumpSize, 64-67 nextCatalogID, 68-71 writeCount, 72-79 encodingsBitmap, 80-111 finderInfo,
    # 112-191 allocationFile, 192-271 extentsFile, 272-351 catalogFile, 352-431 attributesFile,
    # 432-511 startupFile (ForkData each)
    signature: str
    version: int
    attributes: int
    last_mounted_version: str
    created: str | None
    modified: str | None
    backed_up: str | None
    checked: str | None
    file_count: int
    folder_count: int
    block_size: int
    total_blocks: int
    free_blocks: int
    extents_file: ForkData
    catalog_file: ForkData
    attributes_file: ForkData

    def details(self) -> dict:
        return {"signature": self.signature, "version": self.version, "attributes": self.attributes,
                "last_mounted_version": self.last_mounted_version, "created_local": self.created,
                "modified": self.modified, "backed_up": self.backed_up, "checked": self.checked,
                "file_count": self.file_count, "folder_count": self.folder_count, "block_size": self.block_size,
                "total_blocks": self.total_blocks, "free_blocks": self.free_blocks,
                "journaled": bool(self.attributes & 0x2000)}

    def structural(self) -> tuple:
        """What a copy must agree on to describe the same volume (dates and counts move with use)."""
        return (self.signature, self.block_size, self.total_blocks, self.extents_file, self.catalog_file)


def volume_header(h: bytes) -> VolumeHeader | None:
    if len(h) < 512 or h[:2] not in HFSPLUS_SIGNATURES:
        return None
    version, attributes = struct.unpack_from(">HI", h, 2)
    created, modified, backed_up, checked, files, folders, block, total, free = struct.unpack_from(">IIIIIIIII", h, 16)
    if block < 512 or block & (block - 1) or block > (1 << 24) or not total:
        return None
    return VolumeHeader(h[:2].decode(), version, attributes, h[8:12].decode("latin-1"),
                        hfs_date(created, local=True), hfs_date(modified), hfs_date(backed_up), hfs_date(checked),
                        files, folders, block, total, free, fork_data(h[192:272]), fork_data(h[272:352]),
                        fork_data(h[352:432]))


def unistr(raw: bytes, offset: int) -> str | None:
    """HFSUniStr255: u16 length, then that many UTF-16BE units, as recorded (HFS+ stores names
    decomposed, NFD, as The Sleuth Kit shows them); '/' shown as ':' (the Finder's ':' is stored as '/')."""
    if len(raw) < offset + 2:
        return None
    length = struct.unpack_from(">H", raw, offset)[0]
    if length > 255 or len(raw) < offset + 2 + 2 * length:
        return None
    name = raw[offset + 2: offset + 2 + 2 * length].decode("utf-16-be", "replace")
    return name.replace("/", ":")


def catalog_key(key: bytes) -> tuple[int, str] | None:
    """HFSPlusCatalogKey: 0-1 keyLength, 2-5 parentID, 6.. nodeName (HFSUniStr255)."""
    if len(key) < 8:
        return None
    name = unistr(key, 6)
    return None if name is None else (struct.unpack_from(">I", key, 2)[0], name)


def extents_key(key: bytes) -> tuple[int, int, int] | None:
    """HFSPlusExtentKey: 0-1 keyLength (10), 2 forkType (0 data, FFh resource), 3 pad, 4-7 fileID,
    8-11 startBlock (the fork's first allocation block this record describes)."""
    if len(key) < 12:
        return None
    fork_type, file_id, start = key[2], *struct.unpack_from(">II", key, 4)
    return fork_type, file_id, start


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """HFSPlusCatalogFolder (88 bytes) or HFSPlusCatalogFile (248 bytes)."""

    # 0-1 recordType, 2-3 flags, 4-7 valence (folder) / reserved (file), 8-11 folderID / fileID,
    # 12-15 createDate, 16-19 contentModDate, 20-23 attributeModDate, 24-27 accessDate, 28-31 backupDate,
    # 32-47 HFSPlusBSDInfo (32-35 ownerID, 36-39 groupID, 40 adminFlags, 41 ownerFlags, 42-43 fileMode,
    # 44-47 special: iNodeNum, linkCount or rawDevice), 48-63 userInfo (file: 48-51 fdType,
    # 52-55 fdCreator, 56-57 fdFlags; folder: 56-57 frFlags), 64-79 finderInfo, 80-83 textEncoding;
    # file only: 88-167 dataFork, 168-247 resourceFork
    is_dir: bool
    cnid: int
    flags: int
    created: str | None
    modified: str | None
    attributes_modified: str | None
    accessed: str | None
    backed_up: str | None
    owner: int
    group: int
    admin_flags: int
    owner_flags: int
    file_mode: int
    special: int
    file_type: bytes
    creator: bytes
    finder_flags: int
    text_encoding: int
    data: ForkData | None
    resource: ForkData | None

    def mode(self) -> str | None:
        """ls's spelling of fileMode, None when the volume records none (an HFS+ made without owners)."""
        if not self.file_mode:
            return None
        kind = self.file_mode & 0o170000 or (stat.S_IFDIR if self.is_dir else stat.S_IFREG)
        return stat.filemode(kind | (self.file_mode & 0o7777))

    def is_hard_link(self) -> bool:
        return not self.is_dir and self.file_type == HARD_LINK_TYPE and self.creator == HARD_LINK_CREATOR

    def metadata(self) -> dict:
        out: dict = {"created": self.created, "modified": self.modified,
                     "attributes_modified": self.attributes_modified, "accessed": self.accessed,
                     "backed_up": self.backed_up, "cnid": self.cnid, "finder_flags": self.finder_flags,
                     "hidden": bool(self.finder_flags & INVISIBLE), "text_encoding": self.text_encoding}
        if self.file_mode:
            out.update(owner=self.owner, group=self.group, file_mode=oct(self.file_mode),
                       bsd_admin_flags=self.admin_flags, bsd_owner_flags=self.owner_flags)
        if not self.is_dir:
            out.update(type=_four_cc(self.file_type), creator=_four_cc(self.creator))
            if self.resource and self.resource.logical_size:
                out["resource_fork_size"] = self.resource.logical_size
        return {k: v for k, v in out.items() if v is not None}


def _four_cc(raw: bytes) -> str | None:
    return None if raw == bytes(4) else raw.decode("mac_roman", "replace")


def catalog_entry(body: bytes) -> CatalogEntry | None:
    """A folder or file record, None for a thread or anything else."""
    if len(body) < 2:
        return None
    kind = struct.unpack_from(">h", body)[0]
    if kind not in (FOLDER, FILE) or len(body) < (88 if kind == FOLDER else 248):
        return None
    flags, _, cnid, *dates = struct.unpack_from(">HIIIIIII", body, 2)
    owner, group, admin, owner_flags, mode, special = struct.unpack_from(">IIBBHI", body, 32)
    file_type, creator, finder_flags = struct.unpack_from(">4s4sH", body, 48)
    encoding = struct.unpack_from(">I", body, 80)[0]
    is_dir = kind == FOLDER
    return CatalogEntry(is_dir, cnid, flags, *(hfs_date(d) for d in dates), owner, group, admin, owner_flags,
                        mode, special, b"" if is_dir else file_type, b"" if is_dir else creator, finder_flags,
                        encoding, None if is_dir else fork_data(body[88:168]),
                        None if is_dir else fork_data(body[168:248]))


def thread(body: bytes) -> tuple[int, str] | None:
    """A thread record: 0-1 recordType (3 or 4), 2-3 reserved, 4-7 parentID, 8.. nodeName."""
    if len(body) < 10 or struct.unpack_from(">h", body)[0] not in (FOLDER_THREAD, FILE_THREAD):
        return None
    name = unistr(body, 8)
    return None if name is None else (struct.unpack_from(">I", body, 4)[0], name)
