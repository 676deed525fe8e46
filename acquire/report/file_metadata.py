"""A file's metadata (files.metadata_json: every date with its zone as recorded, owners, flags,
Finder type/creator) as the reports show it: one line for the HTML and Markdown file table, and
DFXML's own fileobject fields where DFXML has one (atime, ctime, crtime, bkup_time, nlink, inode)."""
from __future__ import annotations

# metadata key -> DFXML fileobject element (HFS keeps local times without a zone: xs:dateTime allows that)
DFXML_TIMES = {"accessed": "atime", "attributes_modified": "ctime", "created": "crtime", "created_local": "crtime",
               "backed_up": "bkup_time", "backed_up_local": "bkup_time"}
DFXML_NUMBERS = {"link_count": "nlink", "cnid": "inode", "unique_id": "inode"}
SHOWN_DATES = ("created", "created_local", "modified", "modified_local", "accessed", "attributes_modified",
               "backed_up", "backed_up_local")
SHOWN_FLAGS = ("hidden", "locked", "system", "archive", "setuid", "setgid", "sticky")


def summary(f: dict) -> str:
    """'created 1999-01-24T05:20:00 (local); type APPL/ACQ1; hidden' and the like, '' for none."""
    meta = f.get("metadata") or {}
    parts = []
    for key in SHOWN_DATES:
        if meta.get(key):
            label = key.replace("_local", "").replace("_", " ")
            parts.append(f"{label} {meta[key]}" + (" (local, no zone)" if key.endswith("_local") else ""))
    if meta.get("type") or meta.get("creator"):
        parts.append(f"type {meta.get('type') or '-'}/{meta.get('creator') or '-'}")
    if meta.get("owner") is not None:
        parts.append(f"owner {meta['owner']}:{meta.get('group')}")
    parts += [flag for flag in SHOWN_FLAGS if meta.get(flag)]
    if meta.get("device"):
        parts.append("device {}:{}".format(*meta["device"]))
    if meta.get("hard_link_to"):
        parts.append(f"hard link to {meta['hard_link_to']}")
    if meta.get("stream_of"):
        parts.append(f"named stream of {meta['stream_of']}")
    return "; ".join(parts)


def dfxml_fields(f: dict) -> list[tuple[str, object]]:
    """(DFXML element, value) pairs of the file's metadata, each element once."""
    meta = f.get("metadata") or {}
    out: dict[str, object] = {}
    for key, element in DFXML_TIMES.items():
        if meta.get(key) and element not in out:
            out[element] = meta[key]
    for key, element in DFXML_NUMBERS.items():
        if meta.get(key) is not None and element not in out:
            out[element] = meta[key]
    return list(out.items())
