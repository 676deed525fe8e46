"""The progress line of `acquire image` (rich, on stderr, only when stderr is a terminal)."""
from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .rescue.budget import format_duration


class ProgressLine:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Live | None = None
        self.started = time.monotonic()

    def __enter__(self) -> "ProgressLine":
        if self.enabled:
            self.live = Live(Text(""), console=Console(stderr=True), refresh_per_second=5, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, p) -> None:
        if self.live is None:
            return
        wall = max(time.monotonic() - self.started, 1e-6)
        self.live.update(Text(progress_text(p, wall)))


def progress_text(p, wall_s: float) -> str:
    """The line: phase, percent, throughput, the estimated drive time to the recoverable data and to
    the end (rescue/budget.py Estimate), the map's counts."""
    percent = 100.0 * p.finished / p.sectors if p.sectors else 100.0
    mb_s = p.bytes_read / max(wall_s, 1e-6) / 1e6
    estimate = (f"to good ~{format_duration(p.to_good_s)}  to end ~{format_duration(p.to_end_s)}"
                if getattr(p, "to_good_s", None) is not None else "to good -  to end -")
    return (f"{p.phase} pass {p.pass_no}  {percent:5.1f}%  {mb_s:6.1f} MB/s  {estimate}  "
            f"finished {p.finished}  bad {p.bad}  untried {p.untried}  drive {p.drive_time_s:.0f} s")
