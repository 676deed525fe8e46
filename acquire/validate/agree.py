"""The readers check: every installed independent reader's tree against acquire's analysis.

Which readers run follows the file systems the analysis found: ISO 9660 / Joliet / Rock Ridge go to
xorriso, The Sleuth Kit, 7-Zip and isoinfo; UDF to 7-Zip (-tudf) and udfinfo (the volume only);
each HFS+ volume to The Sleuth Kit (fls -f hfs), each classic HFS volume to hfsutils, each against
that volume's tree alone.
A difference in a file whose sectors (or whose directory) were not read is expected and listed as
such; it does not fail the check.
"""
from __future__ import annotations

from pathlib import Path

from ..fs.reader import SECTOR
from ..fs.volume import PVD_LBA
from ..record.fs_tables import Analysis, Filesystem
from ..volume_space import primary_volume_space_size
from . import readers
from .result import Check
from .tree import MAX_LISTED, Listing, compare, expected_reasons, norm, view_sessions, views, volume_views

Views = dict[str, dict]
VolumeViews = tuple[str, Views, str | None]     # (its view's name, views, why it may differ throughout)
STRUCTURES = ("catalog node", "extents node", "master directory block", "volume header")


def _hfs_listings(image: Path, analysis: Analysis) -> list[tuple[Listing, VolumeViews]]:
    """Each HFS or HFS+ volume whose tree the analysis read, with its reader, its views
    (tree.volume_views: its own, and on a hybrid the ISO 9660 tree's), and, when a B-tree node or
    a header of the volume is unreadable, why the whole listing may differ (the image holds zeros
    there: a reader may fail, or miss files whose paths the lost records held)."""
    out = []
    volumes = [fs for fs in analysis.filesystems if fs.kind in ("hfs", "hfsplus") and analysis.files_of(fs.id)]
    for fs in volumes:
        offset = int(fs.details.get("offset_bytes") or 0)
        if fs.kind == "hfsplus":
            listing = readers.sleuthkit_hfsplus(image, offset, int(fs.details.get("block_size") or 0))
            view = volume_views(analysis, fs, resource_forks=False)
        else:
            listing = readers.hfsutils(image, _hfs_partition(analysis, fs))
            view = volume_views(analysis, fs)
        if sum(v.kind == fs.kind for v in volumes) > 1:
            listing.reader += f" #{fs.id}"
        lost = dict.fromkeys((u.what, u.lba, u.count) for u in analysis.unreadable
                             if u.filesystem_id == fs.id and u.what in STRUCTURES)
        why = "; ".join(f"its {what} at LBA {lba} ({count} sectors) is unreadable"
                        for what, lba, count in list(lost)[:3]) or None
        out.append((listing, (*view, why)))
    return out


def _hfs_partition(analysis: Analysis, fs: Filesystem) -> int:
    """hmount's partition number: the volume's rank among the map's Apple_HFS partitions; 0 unpartitioned."""
    number = fs.details.get("apm_partition")
    apm = next((f for f in analysis.filesystems if f.kind == "apm"), None)
    if number is None or apm is None:
        return 0
    hfs = [p["number"] for p in apm.details.get("partitions", []) if p.get("type", "").casefold() == "apple_hfs"]
    return hfs.index(number) + 1 if number in hfs else 0


def _listings(image: Path, analysis: Analysis, session: int = 0) -> tuple[list[Listing], list[str]]:
    kinds = {fs.kind for fs in analysis.filesystems}
    out: list[Listing] = []
    notes: list[str] = []
    if "iso9660" in kinds or "joliet" in kinds:
        namespace = "-R" if "rockridge" in kinds else "-J" if "joliet" in kinds else ""
        if session:
            out += [readers.not_at_session(name, session) for name in ("xorriso", "sleuthkit", "7z")]
        else:
            out += [readers.xorriso(image), readers.sleuthkit(image), readers.seven_zip(image)]
        out.append(readers.isoinfo(image, namespace, session))
    if "udf" in kinds:
        out.append(readers.seven_zip(image, "udf"))
        out[-1].reader, out[-1].prefer = "7z (udf)", "udf"
        listing, fields = readers.udfinfo(image)
        udf = next(fs for fs in analysis.filesystems if fs.kind == "udf")
        if fields:
            said = fields.get("label") or fields.get("lvid") or ""
            agree = not udf.label or said.strip() == udf.label.strip()
            notes.append(f"udfinfo: label {said!r}, acquire {udf.label!r}: {'agree' if agree else 'DISAGREE'}")
            if not agree:
                listing.error = f"volume label {said!r}, acquire read {udf.label!r}"
        elif listing.skipped or listing.error:
            out.append(listing)
    return out, notes


def data_track_starts(layout: dict | None) -> list[int]:
    """The LBAs where the layout's data tracks start (none: no layout recorded)."""
    return sorted({t["start"] for t in (layout or {}).get("tracks", []) if not t["audio"]})


def data_session_start(image: Path, layout: dict | None) -> int:
    """The LBA the readers must be pointed at: 0 when the image holds a primary volume descriptor at
    LBA 16 (the readers find it themselves), else the last data session whose descriptor is there
    (a CD-Extra's data session after its audio, a disc whose file system is in a later session)."""
    with open(image, "rb") as f:
        for start in [0, *reversed([s for s in data_track_starts(layout) if s])]:
            f.seek((start + PVD_LBA) * SECTOR)
            if primary_volume_space_size(f.read(SECTOR)) is not None:
                return start
    return 0


def check_readers(image: Path, analysis: Analysis, session: int = 0) -> Check:
    """`session`: the LBA of the data session the analysis shows when it does not start at 0
    (data_session_start), where the readers are pointed. One check over all readers: pass when every reader that ran agrees, apart from expected differences."""
    listings, notes = _listings(image, analysis, session)
    paired: list[tuple[Listing, VolumeViews | None]] = [(listing, None) for listing in listings]
    paired += _hfs_listings(image, analysis)
    if not paired:
        return Check("readers", "skipped", True, "no file system that an independent reader reads "
                     "(ISO 9660, Joliet, UDF, HFS, HFS+) was found by the analysis", {}, notes)
    all_views, reasons = views(analysis), expected_reasons(analysis)
    catalog = [fs.details.get("catalog_lba") for fs in analysis.filesystems if fs.kind == "eltorito"]
    for f in analysis.files:
        if f.extents and f.extents[0][0] in catalog:
            reasons.setdefault(norm(f.path), "the El Torito boot catalog, which some readers do not list")
    figures: dict = {}
    details: list[str] = list(notes)
    failed, ran, skipped, paths, damaged = [], [], [], [], []
    for listing, own_views in paired:
        if listing.skipped:
            skipped.append(f"{listing.reader} ({listing.package})")
            figures[listing.reader] = {"outcome": "skipped", "why": listing.skipped, "package": listing.package}
            details.append(f"{listing.reader}: skipped: {listing.skipped}")
            continue
        if listing.error and own_views is not None and own_views[2]:
            figures[listing.reader] = {"outcome": "expected", "why": listing.error, "command": listing.command,
                                       "expected_to_differ": own_views[2]}
            details.append(f"{listing.reader}: failed, expected ({own_views[2]}): {listing.error}")
            damaged.append(listing.reader)
            continue
        if listing.error:
            failed.append(listing.reader)
            figures[listing.reader] = {"outcome": "fail", "why": listing.error, "command": listing.command}
            details.append(f"{listing.reader}: failed: {listing.error}")
            continue
        ran.append(listing.reader)
        if own_views is None:
            view, differences = compare(listing, all_views, reasons, sessions=view_sessions(analysis))
        else:                                       # an HFS volume's reader: that volume's paths
            view, differences = compare(listing, own_views[1], {**reasons, **({"/": own_views[2]} if own_views[2] else {})},
                                        view=own_views[0])
        real = [d for d in differences if d.expected is None]
        expected = [d for d in differences if d.expected is not None]
        if real:
            failed.append(listing.reader)
            paths += [d.path for d in real if d.path not in paths]
        figures[listing.reader] = {
            "outcome": "fail" if real else "pass", "command": listing.command, "compared_with": view,
            "entries": len(listing.entries), "disagreements": [d.line() for d in real[:MAX_LISTED]],
            "disagreement_count": len(real), "expected_to_differ": [d.line() for d in expected[:MAX_LISTED]],
            "expected_count": len(expected)}
        details.append(f"{listing.reader}: {len(listing.entries)} entries against {view}: "
                       + (f"{len(real)} disagreement(s)" if real else "agrees")
                       + (f", {len(expected)} expected to differ" if expected else ""))
        details += [f"  {d.line()}" for d in real[:MAX_LISTED]]
        details += [f"  {d.line()}" for d in expected[:MAX_LISTED]]
    hit = sorted(p for p, why in reasons.items() if "unreadable" in why)
    if hit:
        figures["expected_to_differ"] = {p: reasons[p] for p in hit[:MAX_LISTED]}
        details.append(f"{len(hit)} path(s) in unreadable sectors, expected to differ (the image holds zeros "
                       f"there): {', '.join(hit[:10])}")
    tail = (f"; failed as expected on a volume whose structures are unreadable: {', '.join(damaged)}" if damaged else "") \
        + (f"; skipped: {', '.join(skipped)}" if skipped else "")
    if failed:
        named = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        return Check("readers", "fail", False, f"{', '.join(failed)} disagree(s) with acquire's analysis"
                     f"{f' on {named}' if named else ''} ({len(ran)} reader(s) ran){tail}", figures, details)
    if not ran and not damaged:
        return Check("readers", "skipped", True, f"no independent reader installed{tail}", figures, details)
    if not ran:
        return Check("readers", "pass", True, f"no reader listed the volume{tail}", figures, details)
    return Check("readers", "pass", True, f"{', '.join(ran)} agree with acquire's analysis on paths, sizes and "
                 f"extents{tail}", figures, details)
