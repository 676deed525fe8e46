"""The file tree as acquire's analysis reads it, and the comparison of another reader's tree with it.

Readers name files in different namespaces (Rock Ridge, Joliet, plain ISO 9660 with ';1', UDF), so
paths are compared in a normal form (no version suffix, no trailing dot, case folded). A reader's
answer for a path is checked against every analysis view that holds that path: a directory record
changed in one tree but not in the other (the primary tree and Joliet) is then a disagreement with
whichever reader read the other tree, and the path is named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from ..record.fs_tables import Analysis, FileEntry, Filesystem

TREE_KINDS = ("iso9660", "joliet", "udf")
HFS_KINDS = ("hfs", "hfsplus")           # compared only by their own readers (hfsutils, The Sleuth Kit -f hfs)
RESOURCE_FORK = "/..namedfork/rsrc"     # how the analysis lists an HFS file's resource fork (fs/hfs_tree.py)
MAX_LISTED = 50
_VERSION = re.compile(r";\d*$")


def norm(path: str) -> str:
    """A path in the form every reader's answer is compared in."""
    parts = []
    for part in path.strip("/").split("/"):
        part = _VERSION.sub("", part)
        if part.endswith(".") and len(part) > 1:
            part = part[:-1]
        if part:
            parts.append(part.casefold())
    return "/" + "/".join(parts)


@dataclass(frozen=True)
class Seen:
    """One file as a reader (or the analysis, or the mounted tree) gives it; None: not given."""

    path: str
    is_dir: bool | None = None
    size: int | None = None
    lba: int | None = None              # the first extent's LBA
    mtime: int | None = None            # seconds since the epoch, UTC
    sha256: str | None = None


@dataclass
class Listing:
    """What one reader said: its entries by normal path, or why it could not say."""

    reader: str
    package: str
    command: str
    entries: dict[str, Seen] = field(default_factory=dict)
    prefer: str = ""                    # the analysis kind it reads, when it says ('udf'): wins a tie
    skipped: str | None = None          # the reader is missing or does not read this file system
    error: str | None = None            # it ran and failed


@dataclass(frozen=True)
class Difference:
    path: str
    what: str                           # 'missing' | 'extra' | 'size' | 'lba' | 'type' | 'mtime' | 'sha256' | ...
    answers: dict[str, object]          # who said what: the reader, and each analysis view
    expected: str | None = None         # why this difference is expected (unreadable sectors), or None

    def line(self) -> str:
        said = "; ".join(f"{who}: {value}" for who, value in self.answers.items())
        tail = f" (expected to differ: {self.expected})" if self.expected else ""
        return f"{self.path}: {self.what}: {said}{tail}"


def epoch(stamp: str | None) -> int | None:
    """An analysis time (ISO 8601 UTC, e.g. 2026-05-03T22:12:13Z) as epoch seconds."""
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _seen(f: FileEntry) -> Seen:
    return Seen(f.path, f.is_dir, None if f.is_dir else f.size,
                f.extents[0][0] if f.extents and f.size else None, epoch(f.mtime_utc))


def _trees(analysis: Analysis, kinds: tuple[str, ...] = TREE_KINDS) -> list[tuple[str, Filesystem]]:
    """(view name, filesystem) of each tree, in the analysis's order: the one home of the names."""
    out: list[tuple[str, Filesystem]] = []
    for fs in analysis.filesystems:
        if fs.kind in kinds:
            name = f"acquire {fs.kind}"
            out.append((name + (f" #{fs.id}" if any(n == name for n, _ in out) else ""), fs))
    return out


def views(analysis: Analysis, kinds: tuple[str, ...] = TREE_KINDS) -> dict[str, dict[str, Seen]]:
    """Each tree of the analysis (ISO 9660 with its Rock Ridge names, Joliet, UDF; or of `kinds`,
    HFS_KINDS) by normal path."""
    return {name: {norm(f.path): _seen(f) for f in analysis.files_of(fs.id) if norm(f.path) != "/"}
            for name, fs in _trees(analysis, kinds)}


def volume_views(analysis: Analysis, fs: Filesystem, resource_forks: bool = True) -> tuple[str, dict[str, dict[str, Seen]]]:
    """(the name of one HFS or HFS+ volume's view, that view and the ISO 9660 tree's it is
    `alternate_of` on a hybrid disc): the volume's paths are compared with its own tree, each
    size with every tree that holds the path. Without resource forks for a reader that lists
    data forks only (fls)."""
    name = next(n for n, f in _trees(analysis, HFS_KINDS) if f.id == fs.id)
    own = {p: s for p, s in views(analysis, HFS_KINDS)[name].items() if resource_forks or not p.endswith(RESOURCE_FORK)}
    trees = views(analysis)
    hybrid = {n: trees[n] for n, f in _trees(analysis) if f.id == fs.alternate_of}
    return name, {name: own, **hybrid}


def view_sessions(analysis: Analysis) -> dict[str, int | None]:
    """View name -> the session its tree belongs to (None on a one-session disc). A Joliet or UDF
    tree is of its `alternate_of` tree's session; an earlier session's tree names its own."""
    by_id = {fs.id: fs for fs in analysis.filesystems}
    out: dict[str, int | None] = {}
    for name, fs in _trees(analysis):
        for _ in range(len(by_id)):                 # bounded: alternate_of chains are short
            if "session" in fs.details or fs.alternate_of not in by_id:
                break
            fs = by_id[fs.alternate_of]
        out[name] = fs.details.get("session")
    return out


def expected_reasons(analysis: Analysis) -> dict[str, str]:
    """Normal path -> why a reader may see it differently: its sectors (or its directory's) were not read."""
    reasons = {}
    for f in analysis.files:
        if f.unreadable_sectors:
            reasons[norm(f.path)] = f"{f.unreadable_sectors} of its sectors are unreadable"
    for u in analysis.unreadable:
        if u.path:
            reasons[norm(u.path)] = f"its {u.what} at LBA {u.lba} ({u.count} sectors) is unreadable"
    return reasons


def _expected(path: str, reasons: dict[str, str]) -> str | None:
    probe = path
    while True:
        if probe in reasons:
            return reasons[probe]
        if probe == "/":
            return None
        probe = probe.rsplit("/", 1)[0] or "/"


def best_view(entries: dict[str, Seen], all_views: dict[str, dict[str, Seen]], prefer: str = "") -> str | None:
    """The analysis view sharing the most paths with a reader's answer (its namespace); on a tie the
    one of the kind it reads (`prefer`), then the one with the fewest paths the reader does not list
    (an earlier session's tree, which a later session that removed nothing only extends), then the first."""
    if not all_views:
        return None
    return max(all_views, key=lambda v: (len(entries.keys() & all_views[v].keys()),
                                         bool(prefer) and v.startswith(f"acquire {prefer}"),
                                         -len(all_views[v].keys() - entries.keys()), -list(all_views).index(v)))


def compare(listing: Listing, all_views: dict[str, dict[str, Seen]], reasons: dict[str, str],
            fields: tuple[str, ...] = ("size", "lba"),
            sessions: dict[str, int | None] | None = None,
            view: str | None = None) -> tuple[str | None, list[Difference]]:
    """(the view compared against, every difference), each field only where both sides give it.
    `sessions` (view_sessions): a field is checked against the views of the matched view's session
    only; an earlier session's version of a file a later one replaced is no disagreement.
    `view`: the view the paths are compared with (an HFS volume's own), else the best_view."""
    view = view or best_view(listing.entries, all_views, listing.prefer)
    if view is None:
        return None, []
    if sessions is not None:
        all_views = {v: t for v, t in all_views.items() if sessions.get(v) == sessions.get(view)}
    ours = all_views[view]
    found: list[Difference] = []
    theirs_by_ours = _pair_other_names(listing.entries, ours)
    for path in sorted(listing.entries.keys() | ours.keys()):
        if path in theirs_by_ours.values():
            continue                                # met under the name the analysis gives it
        theirs, mine = listing.entries.get(theirs_by_ours.get(path, path)), ours.get(path)
        expected = _expected(path, reasons)
        if theirs is None:
            found.append(Difference(mine.path, "missing", {listing.reader: "not listed", view: "listed"}, expected))
            continue
        if mine is None:
            found.append(Difference(theirs.path, "extra", {listing.reader: "listed", view: "not listed"}, expected))
            continue
        if theirs.is_dir is not None and mine.is_dir is not None and theirs.is_dir != mine.is_dir:
            found.append(Difference(mine.path, "type", {listing.reader: _kind(theirs), view: _kind(mine)}, expected))
            continue
        for name in fields:
            said = getattr(theirs, name)
            if said is None or (mine.is_dir and name != "mtime"):
                continue
            answers = {v: getattr(all_views[v][path], name) for v in all_views if path in all_views[v]}
            answers = {v: a for v, a in answers.items() if a is not None}
            if any(a != said for a in answers.values()):
                found.append(Difference(mine.path, name, {listing.reader: said, **answers}, expected))
    return view, found


def _pair_other_names(theirs: dict[str, Seen], ours: dict[str, Seen]) -> dict[str, str]:
    """Our path -> the reader's, for files the reader names in another namespace (The Sleuth Kit shows
    8.3 ISO 9660 names where the analysis has Rock Ridge names): the same first extent LBA, then the
    directories holding such pairs."""
    extra = {p: s for p, s in theirs.items() if p not in ours}
    missing = {p: s for p, s in ours.items() if p not in theirs}
    by_lba = {s.lba: p for p, s in missing.items() if s.lba is not None and not s.is_dir}
    pairs: dict[str, str] = {}
    for path, seen in extra.items():
        if seen.lba is not None and not seen.is_dir and seen.lba in by_lba:
            pairs[by_lba.pop(seen.lba)] = path
    for mine, them in list(pairs.items()):
        while True:
            mine, them = mine.rsplit("/", 1)[0] or "/", them.rsplit("/", 1)[0] or "/"
            if mine == "/" or them == "/" or mine == them or mine not in missing or them not in extra:
                break
            pairs[mine] = them
    return pairs


def _kind(seen: Seen) -> str:
    return "directory" if seen.is_dir else "file"
