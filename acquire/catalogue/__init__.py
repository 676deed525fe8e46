"""The catalogue: every record registered in one database, SQLite by default or a shared PostgreSQL.

    with Catalogue.open("catalogue.sqlite") as catalogue:     # or "postgresql://user@host/db"
        catalogue.add(derive(Path("disc.iso.custody.sqlite")))  # derived from the record, checked against its seal
        catalogue.search("CASE-7")

docs/catalogue.md describes the tables and the canned queries.
"""
from __future__ import annotations

from pathlib import Path

from .derive import SUFFIX, Entry, as_json, derive
from .store import Catalogue, is_postgres, metadata_path, write_metadata

__all__ = ["Catalogue", "Entry", "add_records", "as_json", "derive", "find_records", "is_postgres",
           "metadata_path", "write_metadata"]


def find_records(paths) -> list[Path]:
    """Records named, and every *.custody.sqlite under the directories named, sorted, each once."""
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if path.is_dir():
            for record in sorted(path.rglob(f"*{SUFFIX}")):
                found[record.resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def add_records(catalogue: Catalogue, paths) -> list[tuple[Path, str]]:
    """Register each record (derived and checked first); (path, 'added' | 'updated') for each."""
    return [(path, catalogue.add(derive(path))) for path in find_records(paths)]
