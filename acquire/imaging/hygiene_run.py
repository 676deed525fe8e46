"""The engine of a run inside retry hygiene and the time budget (acquire/rescue/hygiene.py, budget.py):
what the run knows that the rescue layer does not (the disc's identity probe, the speed the user
asked for), and what a budget stop leaves in the record."""
from __future__ import annotations

import json

from ..rescue import make_engine
from ..rescue.budget import Stopped, model_bad_fraction
from ..rescue.hygiene import Hygiene, HygieneSettings
from ..rescue.sectormap import SectorMap, State


def run_with_hygiene(run, reader, settings) -> Stopped | None:
    """Run the engine through Hygiene; the Stopped that ended it early, or None when it finished."""
    o, drive = run.options, run.drive
    hygiene_settings = HygieneSettings(
        reference=_probe(run.record), family=run.medium.family,
        base_speed_x=float(o.speed) if o.speed not in (None, "max") else None,
        enabled=o.hygiene)
    hygiene = Hygiene(drive, reader, run.smap, run.sink, hygiene_settings, strategy=o.strategy, budget=o.budget)
    engine = make_engine(o.strategy, hygiene.reader, run.smap, hygiene.wrapped_sink, settings)
    model = getattr(engine, "model", None)       # the adaptive engine's DamageModel: the estimate asks it
    if model is not None and run.sink.estimate is not None:
        unit = max(1, run.medium.ecc_sectors)
        run.sink.estimate.predict_bad = lambda: model_bad_fraction(model, run.smap, unit)
    try:
        engine.run()
    except Stopped as stopped:
        run.sink.end_pass()
        untried = run.smap.count(State.UNTRIED)
        run.record.log_event(run.run_id, "budget-stop", reason=stopped.reason, detail=stopped.detail,
                             untried=untried, failed=run.smap.sectors - untried - run.smap.count(State.FINISHED),
                             not_tried=[list(r) for r in not_tried_ranges(run.smap)[:1000]])
        return stopped
    finally:
        hygiene.close()
    return None


def not_tried_ranges(smap: SectorMap) -> list[tuple[int, int]]:
    """Inclusive [first, last] of every run of untried sectors."""
    return [(r.start, r.end - 1) for r in smap.runs_of(State.UNTRIED)]


def _probe(record) -> tuple[int, int, str] | None:
    medium = record.medium() or {}
    try:
        probe = json.loads(medium.get("identity") or "{}").get("probe")
    except ValueError:
        return None
    return tuple(probe) if probe else None
