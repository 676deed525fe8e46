"""What the person at the batch sees: one progress line per drive (rich, on stderr, when it is a
terminal), a line per disc's verdict, and the operator's prompts, which pause the progress lines."""
from __future__ import annotations

import sys
import threading

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text


class Display:
    def __init__(self, drives: list[str], *, live: bool | None = None) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.live_enabled = sys.stderr.isatty() if live is None else live
        self.lines = {d: "idle" for d in drives}
        self._lock = threading.RLock()       # the live display's start, stop and refresh
        self._asking = threading.Lock()      # one prompt at a time; progress goes on being noted meanwhile
        self._live: Live | None = None

    def __enter__(self) -> "Display":
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _render(self) -> Group:
        return Group(*(Text(f"{name:>8}  {line}") for name, line in self.lines.items()))

    def _start(self) -> None:
        if self.live_enabled and self._live is None:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, drive: str, line: str) -> None:
        with self._lock:
            self.lines[drive] = line
            if self._live is not None:
                self._live.update(self._render())

    def note(self, line: str) -> None:
        """A line that stays (a disc's verdict, a changer's fault)."""
        with self._lock:
            self.console.print(Text(line), soft_wrap=True)

    def ask(self, prompt: str) -> str:
        """One prompt to the operator; the progress lines stop while it waits (and the drives'
        progress is still taken, so no acquisition waits on the operator)."""
        with self._asking:
            with self._lock:
                self._stop()
                self.console.print(Text(prompt), end="", soft_wrap=True)
            try:
                answer = sys.stdin.readline()
            finally:
                with self._lock:
                    self._start()
            return answer if answer else "q"   # stdin closed: nobody to answer, stop (resumable)


def progress_text(p: dict) -> str:
    """A drive's line from the worker's progress: phase, pass, percent, bad sectors."""
    if p.get("phase") in ("start", "report"):
        return {"start": "starting", "report": "writing the reports"}[p["phase"]]
    sectors = p.get("sectors") or 0
    done = p.get("finished", 0)
    percent = 100.0 * done / sectors if sectors else 0.0
    return (f"{p.get('phase')} pass {p.get('pass_no')}  {percent:5.1f}%  finished {done}  bad {p.get('bad', 0)}  "
            f"untried {p.get('untried', 0)}  drive {p.get('drive_time_s', 0):.0f} s")
