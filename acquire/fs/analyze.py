"""What is on the disc, and what the damage hit: every file system of an image, read against its map.

    analysis = analyze_image(image_path, smap)      # smap: the record's SectorMap (None: all read)
    analysis = analyze_image(image_path, smap, session_starts=[0, 11604])   # a multisession disc's layout
    save_analysis(record, analysis)                 # acquire.record.fs_tables
    extract_boot_images(image_path, analysis.boot_images, out_dir)

Order of the filesystems found: system area (MBR, GPT, APM, HFS/HFS+), ISO 9660 (with Rock Ridge),
Joliet, El Torito, UDF. Joliet and the UDF side of a bridge disc are `alternate_of` the ISO 9660
tree: the same files under other names, not counted twice in the damaged-file list.

On a multisession disc the ISO 9660 side (primary, Joliet, El Torito) is the last session's, as a
drive and a mount show it; each earlier session's tree follows, `alternate_of` the last one's, and
`session_changes` lists what a later session removed or replaced (fs/sessions.py). Without the
layout the sessions are found in the image.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from ..record.fs_tables import Analysis, FileEntry, Filesystem, Unreadable
from ..rescue.sectormap import SectorMap
from . import alternates, eltorito, iso9660, mac, sessions, systemarea, udf, volume
from .eltorito import extract_boot_images
from .reader import SectorReader

__all__ = ["analyze_image", "extract_boot_images"]


def analyze_image(image_path: Path, smap: SectorMap | None, *, session_starts: Sequence[int] | None = None) -> Analysis:
    """Analyse the image; sectors the map does not mark finished are treated as unreadable.
    `session_starts`: the first LBA of each session (the disc's layout); None: found in the image."""
    with SectorReader(image_path, smap) as reader:
        return _analyze(reader, sessions.session_starts(reader, session_starts))


def _analyze(reader: SectorReader, starts: list[int]) -> Analysis:
    analysis = Analysis(image_sectors=reader.sectors)
    ids = itertools.count(1)                 # filesystem ids, in the order of the module docstring
    starts = _usable_sessions(analysis, reader, starts)
    descriptors = volume.read_descriptors(reader, starts[-1])
    primary_space = descriptors.primary[1].volume_space_size if descriptors.primary is not None else None
    _system_area(analysis, reader, ids, primary_space)
    analysis.unreadable.extend(Unreadable(None, None, lba, 1, "descriptor") for lba in descriptors.unreadable)
    primary_id, primary_files = _iso9660_and_joliet(analysis, reader, ids, descriptors)
    if descriptors.boot_record is not None:
        _el_torito(analysis, reader, next(ids), descriptors.boot_record[1], primary_files)
    # UDF: a bridge beside ISO 9660, or alone (BD-ROM)
    if any(v.startswith("NSR") for v in descriptors.udf_vrs) or descriptors.primary is None:
        result = udf.read_udf(reader, next(ids), alternate_of=primary_id)
        if result is not None:
            fs, files, unreadable = result
            analysis.filesystems.append(fs)
            analysis.files.extend(files)
            analysis.unreadable.extend(unreadable)
    sessions.add_earlier_sessions(analysis, reader, starts, ids, primary_id, primary_files_of(analysis, primary_id))
    alternates.cross_check(analysis)          # which copy each file was found through (fs/alternates.py)
    return analysis


def _usable_sessions(analysis: Analysis, reader: SectorReader, starts: list[int]) -> list[int]:
    """The sessions whose primary volume descriptor can be read; a later session whose descriptor
    sectors are unreadable is said so in unreadable_tree (its tree cannot be walked), and the
    last readable session is then the one shown."""
    usable = []
    for number, start in enumerate(starts, 1):
        found = volume.read_descriptors(reader, start)
        if found.primary is not None:
            usable.append(start)
        elif len(starts) > 1:
            analysis.unreadable.extend(Unreadable(None, None, lba, 1, f"descriptor (session {number} at LBA {start})")
                                       for lba in found.unreadable)
    return usable or [0]


def primary_files_of(analysis: Analysis, fs_id: int | None) -> list[FileEntry]:
    return analysis.files_of(fs_id) if fs_id is not None else []


def _system_area(analysis: Analysis, reader: SectorReader, ids: Iterator[int], primary_space: int | None) -> None:
    """The system area: hybrid MBR / GPT, Apple partition map, HFS(+)."""
    found, problems = systemarea.system_area(reader, primary_space)
    found = mac.with_unread_volumes(reader, found)
    for kind, label, details in found:
        fs_id = next(ids)
        volume = mac.read_volume(reader, fs_id, kind, details, found) if kind in mac.KINDS else None
        if volume is not None:        # an HFS / HFS+ volume read in full (fs/mac.py)
            fs, files, lost = volume
            analysis.filesystems.append(replace(fs, problems=tuple(problems) + fs.problems))
            analysis.files.extend(files)
            analysis.unreadable.extend(lost)
        elif details.get("header_unreadable") and details.get("apm_partition") is None:
            continue                  # a bare volume that may not exist: only its probe failed
        else:
            if details.get("header_unreadable"):
                problems = [*problems, "neither the volume header nor its alternate copy could be read"]
            analysis.filesystems.append(Filesystem(fs_id, kind, label, details, tuple(problems)))
        problems = []
    if problems:      # nothing found, but the area was damaged: say so where a reader looks
        analysis.unreadable.extend(Unreadable(None, None, a, n, "system area")
                                   for a, n in reader.bad_runs(0, min(16, reader.sectors)))


def _iso9660_and_joliet(analysis: Analysis, reader: SectorReader, ids: Iterator[int],
                        descriptors: volume.Descriptors) -> tuple[int | None, list[FileEntry]]:
    """The primary tree (and its Rock Ridge) and each Joliet tree; (primary filesystem id, the
    files El Torito's images are looked up in)."""
    primary_id = None
    primary_files: list[FileEntry] = []
    if descriptors.primary is not None:
        lba, vd = descriptors.primary
        primary_id = next(ids)
        tree = iso9660.walk(reader, lba, vd, fs_id=primary_id, kind="iso9660")
        _add_tree(analysis, tree)
        primary_files = tree.files
        if tree.rock_ridge is not None:
            analysis.filesystems.append(Filesystem(next(ids), "rockridge", tree.filesystem.label,
                                                   {**tree.rock_ridge, "names_in": primary_id}))
    for lba, svd in descriptors.supplementary:
        if svd.joliet_level is None:
            continue
        start = descriptors.primary[0] - 16 if descriptors.primary is not None else None
        tree = iso9660.walk(reader, lba, svd, fs_id=next(ids), kind="joliet", alternate_of=primary_id, start=start)
        _add_tree(analysis, tree)
        if not primary_files:
            primary_files = tree.files
    if descriptors.unreadable and descriptors.primary is None:
        analysis.filesystems.append(Filesystem(
            next(ids), "iso9660", None, {"image_sectors": reader.sectors},
            (f"volume descriptor sectors {', '.join(map(str, descriptors.unreadable))} are unreadable: "
             "no primary volume descriptor could be read",), None))
    return primary_id, primary_files


def _el_torito(analysis: Analysis, reader: SectorReader, fs_id: int, boot_record: volume.BootRecord,
               files: list[FileEntry]) -> None:
    catalog, lost, problems = eltorito.read_catalog(reader, boot_record)
    details = {}
    if catalog is not None:
        details = {"catalog_lba": catalog.lba, "platform": catalog.validation_platform,
                   "id_string": catalog.id_string, "entries": len(catalog.entries)}
        analysis.boot_images.extend(eltorito.boot_images(reader, catalog, files))
    analysis.filesystems.append(Filesystem(fs_id, "eltorito", None, details, tuple(problems)))
    analysis.unreadable.extend(Unreadable(fs_id, u.path, u.lba, u.count, u.what) for u in lost)


def _add_tree(analysis: Analysis, tree: iso9660.Tree) -> None:
    analysis.filesystems.append(tree.filesystem)
    analysis.files.extend(tree.files)
    analysis.unreadable.extend(tree.unreadable)
