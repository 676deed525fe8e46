"""Rescue: the sector map and the strategies that decide which sectors to read next."""
from __future__ import annotations

from .adaptive import AdaptiveEngine
from .engine import Reader, Settings, Sink
from .linear import LinearEngine
from .sectormap import SectorMap, State

STRATEGIES = ("adaptive", "linear")  # "adaptive": damage-aware (adaptive.py), the default;
                                     # "linear": ddrescue's phases (linear.py: copy, trim, scrape, retry)


def make_engine(strategy: str, reader: Reader, smap: SectorMap, sink: Sink, settings: Settings):
    """The engine for `--strategy`; every engine reports to the same Sink and updates the same map."""
    if strategy == "adaptive":
        return AdaptiveEngine(reader, smap, sink, settings)
    if strategy == "linear":
        return LinearEngine(reader, smap, sink, settings)
    raise ValueError(f"unknown strategy {strategy!r}")


__all__ = ["AdaptiveEngine", "LinearEngine", "Reader", "STRATEGIES", "SectorMap", "Settings", "Sink", "State",
           "make_engine"]
