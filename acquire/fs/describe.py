"""What `acquire image` learns of the disc's content once the copy is done: the volume label of the
primary volume descriptor and the file-system analysis. Imaging sits below fs, so it is handed this
as its `describe` step (acquire.api wires it), rather than importing it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..isowriter import IsoReader
from ..record.fs_tables import Analysis
from ..rescue.sectormap import SectorMap, State
from .analyze import analyze_image
from .volume import PVD_LBA, PrimaryVolume, parse_primary_volume


@dataclass(frozen=True, slots=True)
class Description:
    volume: PrimaryVolume | None        # None: no readable primary volume descriptor
    analysis: Analysis | None           # None: the analysis failed (see error)
    error: str | None = None


def describe_image(image_path: Path, smap: SectorMap, session_starts: list[int] | None = None) -> Description:
    """The label and the analysis. Whatever a damaged disc holds, describing it never raises:
    an analysis that fails is reported as its error, and the image and record stand.
    `session_starts`: the disc's sessions (its layout); None: found in the image."""
    return Description(_primary_volume(image_path, smap), *_analysis(image_path, smap, session_starts))


def _primary_volume(image_path: Path, smap: SectorMap) -> PrimaryVolume | None:
    if smap.sectors <= PVD_LBA or smap.state_at(PVD_LBA) != State.FINISHED:
        return None
    with IsoReader(image_path, smap.sectors) as reader:
        return parse_primary_volume(reader.read(PVD_LBA, 1))


def _analysis(image_path: Path, smap: SectorMap, starts: list[int] | None) -> tuple[Analysis | None, str | None]:
    try:
        return analyze_image(image_path, smap, session_starts=starts), None
    except Exception as exc:  # noqa: BLE001 - arbitrary disc content; the acquisition must not pay for it
        return None, f"{type(exc).__name__}: {exc}"
