"""The catalogue's tables, one declaration for SQLite and PostgreSQL (docs/catalogue.md explains them).

Plain SQL both understand: TEXT, BIGINT (SQLite gives it INTEGER affinity; PostgreSQL needs it for
image sizes past 2 GiB), composite primary keys and ON CONFLICT upserts. The only difference is the
audits table's generated key, spelled per dialect.
"""
from __future__ import annotations

DISC_COLUMNS = (
    "record_id", "record_path", "image_path", "case_id", "evidence_id", "examiner", "volume_label",
    "profile_name", "capacity", "sector_size", "image_bytes", "status", "runs", "unreadable_sectors",
    "unreadable_ranges", "damaged_files", "md5", "sha1", "sha256", "xxh128", "crc32", "window_hash", "windows",
    "chain_head", "sealed_utc", "created_utc", "tool_version",
)
INTEGER_COLUMNS = {"capacity", "sector_size", "image_bytes", "runs", "unreadable_sectors", "unreadable_ranges",
                   "damaged_files", "windows"}
DRIVE_COLUMNS = ("record_id", "drive_no", "vendor", "product", "revision", "serial", "device", "sectors")
DAMAGE_COLUMNS = ("record_id", "first_lba", "last_lba", "state")
FILE_COLUMNS = ("record_id", "path", "size", "unreadable_sectors")
AUDIT_COLUMNS = ("audit_id", "record_id", "record_path", "time_utc", "ok", "summary", "changes_json", "chain_head")
CHILD_TABLES = {"disc_drives": DRIVE_COLUMNS, "damage": DAMAGE_COLUMNS, "files_hit": FILE_COLUMNS}


def _typed(columns, integers) -> str:
    return ", ".join(f"{c} {'BIGINT' if c in integers else 'TEXT'}" for c in columns)


def ddl(dialect: str) -> list[str]:
    """CREATE TABLE / INDEX statements, idempotent (IF NOT EXISTS)."""
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    disc_columns = _typed(DISC_COLUMNS, INTEGER_COLUMNS).replace("record_id TEXT", "record_id TEXT PRIMARY KEY", 1)
    return [
        "CREATE TABLE IF NOT EXISTS catalogue_meta (key TEXT PRIMARY KEY, value TEXT)",
        f"CREATE TABLE IF NOT EXISTS discs ({disc_columns}, registered_utc TEXT, registered_host TEXT, "
        "last_audit_utc TEXT, last_audit_ok BIGINT)",
        f"CREATE TABLE IF NOT EXISTS disc_drives ({_typed(DRIVE_COLUMNS, {'drive_no', 'sectors'})}, "
        "PRIMARY KEY (record_id, drive_no))",
        f"CREATE TABLE IF NOT EXISTS damage ({_typed(DAMAGE_COLUMNS, {'first_lba', 'last_lba'})}, "
        "PRIMARY KEY (record_id, first_lba))",
        f"CREATE TABLE IF NOT EXISTS files_hit ({_typed(FILE_COLUMNS, {'size', 'unreadable_sectors'})}, "
        "PRIMARY KEY (record_id, path))",
        f"CREATE TABLE IF NOT EXISTS audits (id {serial}, {_typed(AUDIT_COLUMNS, {'ok'})})",
        "CREATE INDEX IF NOT EXISTS idx_audits_record ON audits (record_id)",
        "CREATE INDEX IF NOT EXISTS idx_disc_drives_serial ON disc_drives (serial)",
    ]


# Canned queries (Datasette's metadata.json; the same SQL runs on PostgreSQL): what an archivist asks.
QUERIES = {
    "damaged_discs": {
        "title": "Damaged discs",
        "description": "Discs with unreadable sectors, most loss first",
        "sql": "SELECT case_id, evidence_id, volume_label, unreadable_sectors, unreadable_ranges, damaged_files, "
               "status, record_path FROM discs WHERE unreadable_sectors > 0 "
               "ORDER BY unreadable_sectors DESC, record_path",
    },
    "files_hit": {
        "title": "Files hit by damage",
        "description": "Every file with unreadable sectors, on which disc",
        "sql": "SELECT d.case_id, d.evidence_id, d.volume_label, f.path, f.size, f.unreadable_sectors, d.record_path "
               "FROM files_hit f JOIN discs d ON d.record_id = f.record_id "
               "ORDER BY f.unreadable_sectors DESC, d.record_path, f.path",
    },
    "discs_by_drive": {
        "title": "Discs by drive",
        "description": "Each drive (vendor, product, serial): how many discs and sectors it read",
        "sql": "SELECT vendor, product, serial, count(DISTINCT record_id) AS discs, sum(sectors) AS sectors "
               "FROM disc_drives GROUP BY vendor, product, serial ORDER BY discs DESC, vendor, product, serial",
    },
    "failed_audits": {
        "title": "Failed audits",
        "description": "Fixity audits that found a change, newest first",
        "sql": "SELECT a.time_utc, a.audit_id, d.case_id, d.evidence_id, a.summary, a.record_path "
               "FROM audits a LEFT JOIN discs d ON d.record_id = a.record_id WHERE a.ok = 0 "
               "ORDER BY a.time_utc DESC",
    },
}
