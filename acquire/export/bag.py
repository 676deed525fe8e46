"""A BagIt 1.0 bag (RFC 8493) of one acquisition: the image, its record and what proves them (docs/bagit.md).

    make_bag(Path("disc.iso.custody.sqlite"), Path("/archive/C-1_E-7"))
    verify_bag(Path("/archive/C-1_E-7"))            # [] when the bag and the record inside it hold

The payload (data/) is the image, the record, the seal and its signature and the sum files when
they are beside the image, and four reports written from the record inside the bag (DFXML, HTML,
Markdown with its two SVG maps, JSON). Manifests and tag manifests are SHA-512 and SHA-256. The
bag is built in a hidden directory beside the target and renamed into place only when complete,
so a bag at the target's name is always a whole one.

The source record is opened read-only: making a bag leaves its bytes as they were.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path

import bagit

from ..durable import sync_path
from ..errors import AcquireError, RecordError, UsageError
from ..record import Record
from ..rescue.sectormap import State

BAGIT_VERSION = "1.0"                     # RFC 8493; bagit-python's make_bag writes 0.97 (bagit.py 1.9.0)
CHECKSUMS = ("sha512", "sha256")          # RFC 8493 2.4: SHA-512 and SHA-256 are the ones to use
SOURCE_ORGANIZATION_ENV = "ACQUIRE_SOURCE_ORGANIZATION"
RECORD_SUFFIX = ".custody.sqlite"
# beside the image when present: the sum files acquire writes, and the seal another step writes
BESIDE_IMAGE = (".sha256", ".md5", ".sfv", ".seal.json", ".seal.json.sig")
REPORTS = (".dfxml", ".report.html", ".report.md", ".report.json")
# RFC 8493 2.1.3: a manifest path holding CR, LF or % must be percent-encoded; bagit-python
# encodes CR and LF only, so a name with any of the three is refused rather than written wrongly
_UNLISTABLE = ("\r", "\n", "%")


def make_bag(record_path: Path, bag_dir: Path, *, source_organization: str | None = None,
             image: Path | None = None, link: bool = True) -> Path:
    """Write a BagIt 1.0 bag of the acquisition whose record is `record_path` at `bag_dir`; returns
    `bag_dir`. `image` defaults to the record's name without .custody.sqlite; `source_organization`
    to $ACQUIRE_SOURCE_ORGANIZATION. With `link` (the default) the image of a complete acquisition
    is hard-linked into the bag when it is on the same file system; a partial one (which a resume
    would write into), or another file system, gets a copy; everything else is always copied."""
    record_path, bag_dir = Path(record_path), Path(bag_dir)
    image = Path(image) if image is not None else _image_of(record_path)
    if source_organization is None:
        source_organization = os.environ.get(SOURCE_ORGANIZATION_ENV) or None
    _refuse_unusable(record_path, image, bag_dir)
    with Record.open_readonly(record_path) as record:
        case = record.case()
        # a partial acquisition may be resumed, and a resume writes into the image: never share it then
        complete = all(state in (State.FINISHED, State.NOT_RECORDED) for _, _, state in record.load_map())
    link = link and complete
    work = bag_dir.with_name(f".{bag_dir.name}.tmp-{os.getpid()}")
    if work.exists():
        shutil.rmtree(work)
    try:
        work.mkdir()
        _place(image, work / image.name, link=link)
        bagged_record = work / f"{image.name}{RECORD_SUFFIX}"
        _place(record_path, bagged_record, link=False)
        for suffix in BESIDE_IMAGE:
            beside = image.with_name(image.name + suffix)
            if beside.is_file():
                _place(beside, work / beside.name, link=False)
        _write_reports(bagged_record, work, image.name)
        _bag(work, _bag_info(case, image.name, source_organization))
        os.rename(work, bag_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)   # a hard-linked image loses only its extra name
        raise
    sync_path(bag_dir.parent)
    return bag_dir


def verify_bag(bag_dir: Path) -> list[str]:
    """Every problem found, [] when none: bagit's full validation (every payload file hashed again
    with every manifest's algorithm, never the size-only fast mode), then the record inside the bag
    checked against itself and the image beside it (acquire.verify, without recording the result)."""
    from ..verify import verify

    bag_dir = Path(bag_dir)
    try:
        bag = bagit.Bag(str(bag_dir))
    except bagit.BagError as exc:
        return [f"{bag_dir} is not a bag ({exc})"]
    problems = []
    version = bag.tags.get("BagIt-Version")
    if version != BAGIT_VERSION:
        problems.append(f"BagIt-Version is {version}, not {BAGIT_VERSION}")
    try:
        bag.validate(processes=1, fast=False, completeness_only=False)
    except bagit.BagValidationError as exc:
        problems += [str(detail) for detail in exc.details] or [str(exc)]
    records = sorted((bag_dir / "data").glob(f"*{RECORD_SUFFIX}"))
    if len(records) != 1:
        return problems + [f"{bag_dir / 'data'} holds {len(records)} records (*{RECORD_SUFFIX}), not one"]
    record = records[0]
    try:
        result = verify(record, image=_image_of(record), record_result=False)
    except AcquireError as exc:
        return problems + [f"{record.name}: {exc}"]
    problems += [f"{record.name}: {check.name}: {check.summary}" for check in result.checks if not check.ok]
    return problems


# --- the parts ---------------------------------------------------------------------------------------

def _image_of(record_path: Path) -> Path:
    name = record_path.name
    if not name.endswith(RECORD_SUFFIX) or name == RECORD_SUFFIX:
        raise RecordError(f"cannot tell the image of {record_path}", hint="name the record IMAGE.custody.sqlite "
                          "or give the image")
    return record_path.with_name(name[: -len(RECORD_SUFFIX)])


def _refuse_unusable(record_path: Path, image: Path, bag_dir: Path) -> None:
    if bag_dir.exists():
        raise UsageError(f"{bag_dir} already exists", hint="choose a new directory for the bag")
    if not bag_dir.parent.is_dir():
        raise UsageError(f"cannot make {bag_dir}: no directory {bag_dir.parent}")
    if not image.is_file():
        raise AcquireError(f"cannot bag {record_path}: no image at {image}",
                           hint="keep the record beside its image (IMAGE.custody.sqlite)")
    if Path(f"{record_path}-wal").exists():
        # the file alone would be missing what the log holds; a copy of both is not one record
        raise RecordError(f"{record_path} is still being written (a -wal is beside it)",
                          hint="let the run finish, or resume it, before making a bag")
    if any(c in image.name for c in _UNLISTABLE):
        raise UsageError(f"cannot bag {image}: its name holds CR, LF or %",
                         hint="rename the image and its record")
    _refuse_a_missing_seal(record_path, image)


def _refuse_a_missing_seal(record_path: Path, image: Path) -> None:
    """A bag whose record says a seal (and signature) was written must hold them: without them
    verify_bag would fail the bag it was just given."""
    record = Record.open_readonly(record_path)
    try:
        last = record.db.conn.execute("SELECT details_json FROM events WHERE kind IN ('seal-signed', 'seal-unsigned') "
                                      "ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        record.close()
    if last is None:
        return
    details = json.loads(last[0])
    for name in (details.get("file"), details.get("signature_file")):
        if name and not image.with_name(name).is_file():
            raise AcquireError(f"cannot bag {record_path}: the record says {name} was written, and it is not "
                               f"beside the image", hint="put the seal files back beside the image")


def _place(source: Path, target: Path, *, link: bool) -> None:
    """A hard link when asked and possible (same file system), else a copy with its times (copy2)."""
    if link:
        try:
            os.link(source, target)
            return
        except OSError:                   # EXDEV (another file system), EPERM (no links there), ...
            pass
    try:
        shutil.copy2(source, target)
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
    except OSError as exc:
        raise AcquireError(f"cannot copy {source} into the bag ({exc.strerror})") from exc


def _write_reports(record: Path, work: Path, image_name: str) -> None:
    from ..report import write_report

    for suffix in REPORTS:
        write_report(record, work / f"{image_name}{suffix}", image=work / image_name)


def _bag_info(case: dict, image_name: str, source_organization: str | None) -> dict[str, str]:
    from .. import __version__

    case_id, evidence_id = case.get("case_id"), case.get("evidence_id")
    info = {
        # bagit's default Bagging-Date is the local date; the record keeps UTC, so does the bag
        "Bagging-Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "Bag-Software-Agent": f"acquire {__version__}",
        "Internal-Sender-Identifier": evidence_id or image_name,
    }
    external = "/".join(part for part in (case_id, evidence_id) if part)
    if external:
        info["External-Identifier"] = external
    if case_id:
        info["Bag-Group-Identifier"] = case_id
    if source_organization:
        info["Source-Organization"] = source_organization
    if case.get("examiner"):
        info["Contact-Name"] = case["examiner"]
    return info


def _bag(work: Path, info: dict[str, str]) -> None:
    """bagit's make_bag moves the directory's files into data/ and writes the tag files; it names
    version 0.97, so bagit.txt is rewritten as 1.0 and the tag manifests written again over it."""
    try:
        bagit.make_bag(str(work), dict(info), processes=1, checksums=list(CHECKSUMS))
        (work / "bagit.txt").write_text(f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n",
                                        encoding="utf-8")
        bagit.Bag(str(work)).save(manifests=False)    # tag manifests only: the payload is hashed once
    except (bagit.BagError, OSError) as exc:
        raise AcquireError(f"cannot make the bag in {work} ({exc})") from exc
    for path in sorted(work.rglob("*")):
        if path.is_file():
            sync_path(path)
