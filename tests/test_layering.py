"""Imports go one way (docs/reference/contracts.md "The flow of data"): no module imports a layer above its own.

Every module under acquire/ is parsed with `ast` (imports inside functions count too) and each
import is resolved to a module name. Layers by module-name prefix, the longest prefix wins:

    0  acquire.errors  acquire.durable
    1  acquire.drive
    2  acquire.rescue
    3  acquire.imaging  acquire.isowriter  acquire.hashing  acquire.record  acquire.seal
       acquire.storage  acquire.sumfiles  acquire.progress  acquire.mapexport  acquire.volume_space
    4  acquire.fs
    5  acquire.report  acquire.verify  acquire.validate  acquire.catalogue (the consumers: they only read what the layers
       below made; validate also runs other readers and QEMU on the image)
    6  acquire.cli  acquire.__main__  acquire.info  acquire.api  acquire.batch  acquire.audit  acquire (the package: it re-exports
       the API)

Unlisted modules (a new verb such as export/, batch/) sit with the command line (6):
above everything they call. Inside the drive layer: acquire.drive.sim imports nothing from mmc,
sense or guard (it checks them independently), and only acquire.drive.device opens it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "acquire"

LAYERS: dict[str, int] = {
    "acquire.errors": 0,
    "acquire.durable": 0,
    "acquire.drive": 1,
    "acquire.rescue": 2,
    "acquire.audio": 2,            # CD-DA samples, offsets, rescue, checksums, disc IDs
    "acquire.audio.output": 3,     # the BIN/CUE, WAV and FLAC files
    **dict.fromkeys(["acquire.imaging", "acquire.isowriter", "acquire.hashing", "acquire.record",
                     "acquire.seal", "acquire.storage", "acquire.sumfiles", "acquire.progress",
                     "acquire.mapexport", "acquire.volume_space"], 3),
    "acquire.fs": 4,
    "acquire.report": 5,
    "acquire.verify": 5,
    "acquire.validate": 5,
    "acquire.catalogue": 5,     # reads records and their seals, as verify does
    "acquire.audit": 6,         # runs verify over a collection, writes the catalogue
    **dict.fromkeys(["acquire.cli", "acquire.__main__", "acquire.info", "acquire.api", "acquire.batch", "acquire"], 6),
}
TOP = 6
SIM = "acquire.drive.sim"
SIM_MAY_NOT_IMPORT = ("acquire.drive.mmc", "acquire.drive.sense", "acquire.drive.guard")
SIM_OPENER = "acquire.drive.device"
# (importer prefix, imported prefix): upward imports that exist, each to be removed, not added to.
# None today: `acquire image`'s analysis after the copy is handed to imaging by acquire.api.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer(name: str) -> int:
    best = max((p for p in LAYERS if _within(name, p)), key=len, default=None)
    if best is None or (best == "acquire" and name != "acquire"):
        return TOP                                 # an unlisted module: with the command line
    return LAYERS[best]


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of an acquire module in `path`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:             # `from . import mmc` imports the submodule
                sub = f"{module}.{alias.name}"
                found.append((node.lineno, sub if sub in MODULES else module))
    # `from .. import __version__`: the package root itself is no layer (Python imports it first anyway)
    return [(line, m) for line, m in found if _within(m, "acquire") and m != "acquire"]


EDGES = [(name, line, target) for name, path in MODULES.items() for line, target in _imports(name, path)]


def test_the_layer_table_sees_every_module():
    assert {"acquire.errors", "acquire.drive.device", "acquire.drive.sim.target", "acquire.cli"} <= set(MODULES)
    assert layer("acquire.drive.mmc.read") == 1 and layer("acquire.record.store") == 3 and layer("acquire") == 6


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_layer_above_its_own(name):
    upward = [f"line {line}: {target} (layer {layer(target)})" for source, line, target in EDGES
              if source == name and layer(target) > layer(name)
              and not any(_within(source, a) and _within(target, b) for a, b in KNOWN_UPWARD)]
    assert not upward, f"{name} (layer {layer(name)}) imports upward: " + "; ".join(upward)


def test_the_simulated_drive_imports_nothing_from_mmc_sense_or_guard():
    bad = [f"{source}:{line} {target}" for source, line, target in EDGES
           if _within(source, SIM) and any(_within(target, m) for m in SIM_MAY_NOT_IMPORT)]
    assert not bad


def test_only_the_device_opener_imports_the_simulated_drive():
    importers = {source for source, _line, target in EDGES if _within(target, SIM) and not _within(source, SIM)}
    assert importers == {SIM_OPENER}
