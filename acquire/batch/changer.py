"""The changer interface: what moves discs between the input stack, the drives and the two piles.

Three kinds: the simulated autoloader (simchanger.py, for tests and rehearsals), the Acronova Nimbie
NB21 over USB (nimbie.py), and the operator (below), who is asked on the terminal to insert each
disc and to put it on its pile. The batch pairs each disc loaded with the next job of the queue, and
checks the disc's identity before imaging it, so a changer need not know the queue.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Protocol

from ..errors import AcquireError, UsageError


class ChangerError(AcquireError):
    """The changer could not do what it was asked (one disc's problem unless it is ChangerGone)."""


class LoadFailed(ChangerError):
    """The disc did not load (misfed, stuck, fell off the picker): it is rejected."""


class DiscMissing(ChangerError):
    """The operator has not got the disc the queue asks for: it is refused, on no pile."""


class StackEmpty(ChangerError):
    """No disc left in the input stack: the batch is over."""


class ChangerGone(ChangerError):
    """The changer itself stopped answering: no drive of it can go on."""


class OperatorQuit(AcquireError):
    """The operator chose to stop the batch at a prompt: it resumes where it stopped."""

    exit_code = 4


class Changer(Protocol):
    def drives(self) -> list[tuple[str, str]]:
        """(name, device) of each drive it feeds."""

    def load(self, drive: str, hint: str) -> None:
        """The next disc of the stack into `drive` (`hint`: the job the batch expects, for a prompt)."""

    def unload(self, drive: str, pile: str, hint: str) -> None:
        """The disc in `drive` onto the `pile` ('accept' or 'reject')."""

    def tray(self, drive: str) -> bool:
        """Whether `drive` holds a disc (after a restart: the one in progress)."""

    def close(self) -> None:
        ...


Ask = Callable[[str], str]          # one prompt line -> what the operator typed


class OperatorChanger:
    """A person as the changer: one prompt at a time (drives share one operator), never with --yes."""

    def __init__(self, devices: list[str], ask: Ask) -> None:
        self._drives = [(f"drive{i}", d) for i, d in enumerate(devices, 1)] if len(devices) > 1 \
            else [(devices[0], devices[0])]
        self._ask = ask
        self._lock = threading.Lock()
        self._held: dict[str, bool] = {}

    def drives(self) -> list[tuple[str, str]]:
        return list(self._drives)

    def _device(self, drive: str) -> str:
        return dict(self._drives)[drive]

    def _prompt(self, text: str) -> str:
        with self._lock:
            answer = self._ask(text).strip().lower()
        if answer in ("q", "quit"):
            raise OperatorQuit("stopped at the operator's request", hint="run the same command to resume")
        return answer

    def load(self, drive: str, hint: str) -> None:
        answer = self._prompt(f"Insert disc {hint} into {self._device(drive)}, close the tray, then press "
                              "Enter (s: it is missing, q: stop the batch) ")
        if answer in ("s", "skip"):
            raise DiscMissing("the operator could not find the disc")
        self._held[drive] = True

    def unload(self, drive: str, pile: str, hint: str) -> None:
        self._prompt(f"Take disc {hint} out of {self._device(drive)} and put it on the {pile.upper()} pile, "
                     "then press Enter ")
        self._held[drive] = False

    def tray(self, drive: str) -> bool:
        return self._held.get(drive, False)

    def close(self) -> None:
        pass


class FixedDrives:
    """No changer and no prompt (--yes): each job names its own device, already holding its disc."""

    def __init__(self) -> None:
        self._drives = [("job", "")]

    def drives(self) -> list[tuple[str, str]]:
        return list(self._drives)

    def load(self, drive: str, hint: str) -> None:
        pass

    def unload(self, drive: str, pile: str, hint: str) -> None:
        pass

    def tray(self, drive: str) -> bool:
        return True

    def close(self) -> None:
        pass


def open_changer(spec: str | None, devices: list[str], *, yes: bool, ask: Ask | None):
    """`--changer sim:FILE | nimbie[:N]` with `--drive DEVICE`; none: the operator, or (--yes) the
    jobs' own devices."""
    if spec is None:
        if yes or ask is None:
            if devices:
                raise UsageError("without a changer each disc is inserted by the operator, and --yes never prompts",
                                 hint="give --changer, or drop --yes, or name each disc's device in the queue")
            return FixedDrives()
        if not devices:
            raise UsageError("no drive to insert the discs into", hint="give --drive DEVICE (repeat it for several)")
        return OperatorChanger(devices, ask)
    if spec.startswith("sim:"):
        from .simchanger import SimChanger
        if devices:
            raise UsageError("a simulated changer brings its own drives", hint="drop --drive")
        return SimChanger(Path(spec[4:]))
    if spec == "nimbie" or spec.startswith("nimbie:"):
        from .nimbie import NimbieChanger
        if len(devices) != 1:
            raise UsageError("a Nimbie NB21 feeds one drive", hint="give --drive DEVICE, the drive inside it")
        index = int(spec.partition(":")[2] or 0)
        return NimbieChanger(devices[0], index=index)
    raise UsageError(f"--changer {spec!r} is unknown", hint="give sim:FILE or nimbie (or nimbie:N for the N-th one)")
