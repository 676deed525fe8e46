"""The chain-of-custody record: one SQLite file (docs/record.md)."""
from .chain import (
    GENESIS,
    Finding,
    canonical,
    canonical_value,
    event_hash,
    overall_digest,
    seal_details,
    table_digest,
    verify_connection,
)
from .schema import BAD, FINISHED, NON_SCRAPED, NON_TRIMMED, SCHEMA_VERSION, STATE_CHARS, UNTRIED
from .store import Record, utc_now

__all__ = [
    "BAD",
    "FINISHED",
    "GENESIS",
    "NON_SCRAPED",
    "NON_TRIMMED",
    "SCHEMA_VERSION",
    "STATE_CHARS",
    "UNTRIED",
    "Finding",
    "Record",
    "canonical",
    "canonical_value",
    "event_hash",
    "overall_digest",
    "seal_details",
    "table_digest",
    "utc_now",
    "verify_connection",
]
