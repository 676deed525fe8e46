"""A shelf of real acquisitions for the catalogue and audit tests: each disc imaged by acquire
(in-process, through the simulated drive), so every record is a real, sealed one."""
from __future__ import annotations

from pathlib import Path

from conftest import ROOT, make_disc, write_profile

from acquire.api import acquire_image
from acquire.imaging import ImageOptions

SMALL_ISO = ROOT / "fixtures" / "out" / "small.iso"     # ISO 9660 with RANDOM.BIN on LBA 32..3999
ZERO_COSTS = {"overhead_s": 0.0, "seek_base_s": 0.0, "seek_full_s": 0.0, "error_delay_s": 0.0}


def acquire_disc(folder: Path, name: str, *, sectors: int = 600, seed: int = 1, case: str = "CASE-1",
                 evidence: str | None = None, damage=(), iso: bool = False, serial: str = "SIM-T") -> Path:
    """Image one simulated disc into folder/name.iso; returns its record. `iso`: the small ISO 9660
    fixture (a file to be hit by damage) instead of seeded random sectors."""
    folder.mkdir(parents=True, exist_ok=True)
    if iso:
        source = str(SMALL_ISO)
    else:
        source = f"{name}.src"
        make_disc(folder / source, sectors, seed=seed)
    profile = write_profile(folder / f"{name}.toml", source, damage=list(damage), timing=ZERO_COSTS,
                            drive={"serial": serial, "product": "SIM DRIVE"})
    image = folder / f"{name}.iso"
    outcome = acquire_image(f"sim:{profile}", image, ImageOptions(case_id=case, evidence_id=evidence or name,
                                                                   examiner="tester", retries=0))
    return Path(outcome.record)


def shelf(folder: Path, count: int, *, sectors: int = 600) -> list[Path]:
    """`count` undamaged discs of distinct seeded content."""
    return [acquire_disc(folder, f"disc{i:02d}", sectors=sectors, seed=100 + i) for i in range(count)]
