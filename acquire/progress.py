"""The progress line of `acquire image` (rich, on stderr, only when stderr is a terminal)."""
from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text


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
        done = p.finished + p.bad
        percent = 100.0 * p.finished / p.sectors if p.sectors else 100.0
        wall = max(time.monotonic() - self.started, 1e-6)
        mb_s = p.bytes_read / wall / 1e6
        rate = done / wall
        eta = (p.sectors - done) / rate if rate > 0 and p.phase == "copy" else None
        eta_text = f"ETA {eta / 60:.0f} min" if eta is not None else "ETA -"
        self.live.update(Text(
            f"{p.phase} pass {p.pass_no}  {percent:5.1f}%  {mb_s:6.1f} MB/s  {eta_text}  "
            f"finished {p.finished}  bad {p.bad}  untried {p.untried}  drive {p.drive_time_s:.0f} s"))
