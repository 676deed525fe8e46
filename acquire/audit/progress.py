"""The audit's progress: a rich bar on a terminal (files, bytes, rate, ETA), one line per record otherwise."""
from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)


class AuditProgress:
    """Thread-safe: advance() is called from every worker's hashing loop."""

    def __init__(self, *, terminal: bool | None = None, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.lock = threading.Lock()
        self.files = self.files_done = 0
        self.total_bytes = self.bytes_done = 0
        self.started = time.monotonic()
        self._resumed_bytes = 0
        self.bar: Progress | None = None
        self.task = None

    def start(self, files: int, total_bytes: int, *, done: int = 0, done_bytes: int = 0) -> None:
        self.files, self.files_done = files, done
        self.total_bytes, self.bytes_done = total_bytes, done_bytes
        self.started = time.monotonic()
        self._resumed_bytes = done_bytes
        if self.terminal:
            self.bar = Progress(TextColumn("audit {task.fields[files]}"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(),
                                console=Console(file=self.stream, force_terminal=True), transient=True)
            self.task = self.bar.add_task("audit", total=total_bytes, completed=done_bytes, files=self._files())
            self.bar.start()
        elif done:
            print(f"audit: resuming, {done} of {files} records already done", file=self.stream, flush=True)

    def _files(self) -> str:
        return f"{self.files_done}/{self.files} files"

    def advance(self, n: int) -> None:
        with self.lock:
            self.bytes_done += n
            if self.bar is not None:
                self.bar.update(self.task, advance=n)

    def file_done(self, record: str, result: dict) -> None:
        with self.lock:
            self.files_done += 1
            if self.bar is not None:
                self.bar.update(self.task, files=self._files())
                if not result["ok"]:
                    self.bar.console.print(f"FAILED {record}")
                return
            print(self.line(record, result), file=self.stream, flush=True)

    def line(self, record: str, result: dict) -> str:
        """`audit 3/20 files  150.0/1000.0 MB  320 MB/s  ETA 3 s  ok RECORD`"""
        wall = max(time.monotonic() - self.started, 1e-6)
        rate = (self.bytes_done - self._resumed_bytes) / wall
        left = self.total_bytes - self.bytes_done
        eta = f"ETA {left / rate:.0f} s" if rate > 0 else "ETA -"
        return (f"audit {self._files()}  {self.bytes_done / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB  "
                f"{rate / 1e6:.0f} MB/s  {eta}  {'ok' if result['ok'] else 'FAILED'} {record}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
