"""Trees of one volume read as evidence for each other: a Joliet tree or a bridge disc's UDF side
(`alternate_of` the ISO 9660 tree) names the same files through other directory sectors. A file the
primary tree lost with an unreadable directory, but an alternate still lists, is named as recovered
through that alternate; a file both list, whose sizes differ, is a disagreement between copies that
both read, and is said so. Files are matched by where their data starts (the first extent's LBA)."""
from __future__ import annotations

from dataclasses import replace

from ..record.fs_tables import Analysis

MAX_DISAGREEMENTS = 32


def link_hybrids(analysis: Analysis) -> None:
    """An HFS or HFS+ volume whose files share their data with the ISO 9660 tree (a hybrid disc made
    by genisoimage -hfs or xorriso -hfsplus) is another view of those files: `alternate_of` it, so a
    damaged file is counted once and the two trees are evidence for each other."""
    iso = next((fs for fs in analysis.filesystems if fs.kind == "iso9660" and fs.alternate_of is None), None)
    if iso is None:
        return
    iso_starts = {f.extents[0][0] for f in analysis.files_of(iso.id) if f.extents and not f.is_dir}
    for index, fs in enumerate(analysis.filesystems):
        if fs.kind not in ("hfs", "hfsplus") or fs.alternate_of is not None:
            continue
        starts = [f.extents[0][0] for f in analysis.files_of(fs.id) if f.extents and not f.is_dir]
        if starts and sum(s in iso_starts for s in starts) * 2 >= len(starts):
            analysis.filesystems[index] = replace(fs, alternate_of=iso.id)


def cross_check(analysis: Analysis) -> None:
    """Mark alternate-only files `read_via` their tree; add the copies' disagreements as problems."""
    link_hybrids(analysis)
    by_id = {fs.id: fs for fs in analysis.filesystems}
    primary_starts: dict[int, dict[int, object]] = {}
    for index, fs in enumerate(analysis.filesystems):
        if fs.alternate_of is None or fs.alternate_of not in by_id:
            continue
        primary = by_id[fs.alternate_of]
        starts = primary_starts.setdefault(primary.id, {
            f.extents[0][0]: f for f in analysis.files_of(primary.id) if f.extents and not f.is_dir})
        lost_dirs = any(u.filesystem_id == primary.id and u.what == "directory" for u in analysis.unreadable)
        disagreements = []
        for i, f in enumerate(analysis.files):
            if f.filesystem_id != fs.id or f.is_dir or not f.extents:
                continue
            twin = starts.get(f.extents[0][0])
            if twin is None:
                if lost_dirs and not f.read_via:
                    analysis.files[i] = replace(f, read_via=f"{fs.kind} tree (lost from the {primary.kind} tree)")
                continue
            if twin.size != f.size and len(disagreements) < MAX_DISAGREEMENTS:
                disagreements.append(f"{f.path} ({fs.kind}) and {twin.path} ({primary.kind}) start at LBA "
                                     f"{f.extents[0][0]} but disagree on the size: {f.size} and {twin.size} bytes")
        if disagreements:
            analysis.filesystems[index] = replace(fs, problems=fs.problems + tuple(disagreements))


def recovered_files(analysis: Analysis) -> list:
    """The files only an alternate tree still lists (their primary directory was unreadable)."""
    alternates = {fs.id for fs in analysis.filesystems if fs.alternate_of is not None}
    return [f for f in analysis.files if f.filesystem_id in alternates and f.read_via and not f.is_dir]
