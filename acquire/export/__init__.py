"""`acquire export`: an acquisition in other forms, from its record and image, changing neither.

One entry, `export(record_path, *, e01=...)`, one keyword a kind; each kind lives in its own
module beside this one and returns its own result. Today: `e01` (EnCase 6 EWF through libewf,
e01.py). Every exporter opens the record with Record.open_readonly(), so the record's bytes
(its sha256) stay as they were (docs/export.md).

    from acquire.export import E01Options, export
    results = export(Path("disc.iso.custody.sqlite"), e01=E01Options(compression="best"))
    results["e01"].segments                   # [Path("disc.E01"), ...]
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .e01 import COMPRESSIONS, E01Options, E01Result, parse_size

__all__ = ["COMPRESSIONS", "E01Options", "E01Result", "export", "parse_size"]


def export(record_path: Path, *, e01: E01Options | None = None) -> dict[str, object]:
    """Write each kind asked for; returns {kind: its result}. UsageError when none is asked for."""
    from ..verify import image_of

    record_path = Path(record_path)
    kinds = {"e01": e01}
    if all(options is None for options in kinds.values()):
        raise UsageError("nothing to export", hint="name a kind, e.g. --e01")
    results: dict[str, object] = {}
    if e01 is not None:
        from .e01 import write_e01

        results["e01"] = write_e01(record_path, image_of(record_path), e01)
    return results
