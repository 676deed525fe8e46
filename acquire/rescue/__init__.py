"""Rescue: the sector map and the strategies that decide which sectors to read next."""
from __future__ import annotations

from .engine import Engine, Reader, Settings, Sink
from .sectormap import SectorMap, State

STRATEGIES = ("linear",)             # "linear": ddrescue's phases (copy, trim, scrape, retry)


def make_engine(strategy: str, reader: Reader, smap: SectorMap, sink: Sink, settings: Settings):
    """The engine for `--strategy`; every engine reports to the same Sink and updates the same map."""
    if strategy == "linear":
        return Engine(reader, smap, sink, settings)
    raise ValueError(f"unknown strategy {strategy!r}")


__all__ = ["Engine", "Reader", "STRATEGIES", "SectorMap", "Settings", "Sink", "State", "make_engine"]
