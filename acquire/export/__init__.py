"""`acquire export`: an acquisition in the forms others trust, from its record and image.

One entry, `export(record_path, ...)`: an E01 set (e01.py, through libewf), a BagIt 1.0 bag
(bag.py), and age-encrypted transport copies of either (encrypt.py). Exporters read the record
with Record.open_readonly() and the image with IsoReader; space for everything is planned first
(acquire.storage). What was written, with the ciphertext's SHA-256 so that receipt can be
confirmed without the key, is then appended to the record as one chained 'export' event, unless
`record_result` is False (`--no-record`), and only to a record that verifies intact.

    from acquire.export import E01Options, export
    results = export(Path("disc.iso.custody.sqlite"), e01=E01Options(compression="best"),
                     bag=Path("bag"), encrypt_to=["age1..."])
    results["e01"].segments, results["bag"], results["encrypted"]      # [Path("disc.E01"), ...] ...
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .e01 import COMPRESSIONS, E01Options, E01Result, parse_size

__all__ = ["COMPRESSIONS", "E01Options", "E01Result", "Encrypted", "export", "parse_size"]


@dataclass(frozen=True, slots=True)
class Encrypted:
    source: Path                     # the bag directory or the E01 segment that was encrypted
    path: Path                       # the .age file
    sha256: str                      # of the ciphertext: receipt can be confirmed without the key

    def as_json(self) -> dict:
        return {"source": str(self.source), "path": str(self.path), "sha256": self.sha256}


def export(record_path: Path, *, e01: E01Options | None = None, bag: Path | None = None,
           encrypt_to: list[str] | tuple[str, ...] = (), source_organization: str | None = None,
           link: bool = True, record_result: bool = True) -> dict[str, object]:
    """Write each kind asked for; returns {kind: its result, "recorded": what became of it in the
    record}. UsageError when none is asked for."""
    from ..storage import plan_export
    from ..verify import image_of

    record_path = Path(record_path)
    if e01 is None and bag is None:
        raise UsageError("nothing to export", hint="name a kind: --e01 or --bag DIR" +
                         (" (--encrypt-to encrypts what they write)" if encrypt_to else ""))
    image = image_of(record_path)
    e01_first = e01.first_segment(image) if e01 is not None else None
    targets = _encrypted_targets(bag, e01_first, encrypt_to)
    plan_export(record_path, image=image, bag_dir=bag, e01=e01_first, link=link,
                encrypted=targets[0][1] if targets else None).check()
    results: dict[str, object] = {}
    if e01 is not None:
        from .e01 import write_e01
        results["e01"] = write_e01(record_path, image, e01)
    if bag is not None:
        from .bag import make_bag
        results["bag"] = make_bag(record_path, bag, source_organization=source_organization, image=image, link=link)
    if encrypt_to:
        results["encrypted"] = _encrypt(results, bag, encrypt_to)
    results["recorded"] = _record(record_path, results) if record_result else \
        "not recorded (--no-record): the record file is unchanged"
    return results


def _encrypted_targets(bag: Path | None, e01_first: Path | None, recipients) -> list[tuple[Path, Path]]:
    """(source, .age path) for each copy --encrypt-to makes: the bag as one tar, else the E01."""
    if not recipients:
        return []
    if bag is not None:
        return [(bag, bag.with_name(bag.name + ".tar.age"))]
    return [(e01_first, e01_first.with_name(e01_first.name + ".age"))]


def _encrypt(results: dict, bag: Path | None, recipients) -> list[Encrypted]:
    from .encrypt import encrypt_to
    if bag is not None:
        sources = [bag]
    else:
        sources = list(results["e01"].segments)       # each segment its own .age: the set stays a set
    out = []
    for source in sources:
        path, digest = encrypt_to(source, recipients, source.with_name(source.name + (".tar.age" if source.is_dir()
                                                                                       else ".age")))
        out.append(Encrypted(source, path, digest))
    return out


def _record(record_path: Path, results: dict) -> str:
    """One chained 'export' event (and a new seal) saying what was written; only on an intact record."""
    from ..record import Record
    details: dict[str, object] = {}
    if "e01" in results:
        e01 = results["e01"]
        details["e01"] = {"segments": [str(p.resolve()) for p in e01.segments], "bytes": e01.written_bytes}
    if "bag" in results:
        details["bag"] = str(Path(results["bag"]).resolve())
    if "encrypted" in results:
        details["encrypted"] = [dict(e.as_json(), source=str(e.source.resolve()), path=str(e.path.resolve()))
                                for e in results["encrypted"]]
    record = Record.open(record_path)
    try:
        if record.verify():
            return "not recorded: the record itself does not verify, so nothing is added to it"
        record.log_event(None, "export", **details)
        record.seal(None)
        return f"recorded: a chained 'export' event and a new seal (chain head {record.head_hash()})"
    finally:
        record.close()
