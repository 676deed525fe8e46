"""A record analysed before `files` had verdict, read_via and metadata_json gains them on its next
analysis, and reads back without them until then."""
from __future__ import annotations

from acquire.record import Record
from acquire.record.fs_tables import FS_SCHEMA, Analysis, FileEntry, Filesystem, load_analysis, save_analysis

OLD_FILES = ("CREATE TABLE files (id INTEGER PRIMARY KEY, filesystem_id INTEGER NOT NULL REFERENCES filesystems(id), "
             "path TEXT NOT NULL, size INTEGER, is_dir INTEGER, extents_json TEXT NOT NULL, mtime_utc TEXT, mode TEXT, "
             "unreadable_sectors INTEGER, entry_lba INTEGER, embedded INTEGER, link_target TEXT, uid INTEGER, gid INTEGER)")


def test_older_files_tables_gain_the_new_columns(tmp_path):
    record = Record.create(tmp_path / "r.sqlite", tool_version="test")
    try:
        with record._write() as conn:
            conn.execute("CREATE TABLE filesystems (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, label TEXT, "
                         "details_json TEXT, problems_json TEXT, alternate_of INTEGER)")
            conn.execute(OLD_FILES)
            for name in ("boot_images", "unreadable_tree"):           # unchanged since then
                columns, pk, foreign_keys, not_null = FS_SCHEMA[name]
                record.db[name].create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null)
            conn.execute("INSERT INTO filesystems VALUES (1, 'iso9660', 'OLD', '{}', '[]', NULL)")
            conn.execute("INSERT INTO files (filesystem_id, path, size, is_dir, extents_json, unreadable_sectors) "
                         "VALUES (1, '/a', 3, 0, '[[20, 1]]', 1)")
            record._append_event(None, "fs-analysis", {"image_sectors": 30})
        old = load_analysis(record)
        assert old.files[0].verdict == "damaged" and old.files[0].metadata == {} and old.files[0].read_via is None
        analysis = Analysis(30, [Filesystem(1, "hfs", "NEW")],
                            [FileEntry(1, "/b", 5, False, ((21, 1),), read_via="alternate master directory block",
                                       metadata={"created_local": "1999-01-24T05:20:00", "type": "TEXT"})])
        save_analysis(record, analysis)
        assert load_analysis(record) == analysis
        row = record.db.conn.execute("SELECT verdict, read_via, metadata_json FROM files").fetchone()
        assert row == ("recovered via alternate master directory block", "alternate master directory block",
                       '{"created_local":"1999-01-24T05:20:00","type":"TEXT"}')
        record.seal(None)
        assert record.verify() == []
    finally:
        record.close()
