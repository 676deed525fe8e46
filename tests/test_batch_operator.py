"""The operator's path of `acquire batch` (no changer) as a person sees it: the batch runs in a real
terminal (tmux), the test reads the screen (`tmux capture-pane`) and answers as the operator would,
inserting a simulated disc by writing the drive's profile. The wrong disc first: the identity check
must catch it and say which disc it is. And a changer's two drives, each with its progress line."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acquire.batch.simchanger import compose_profile

from conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
from make_batch_stack import Stack, make_stack  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (Debian package tmux, .ci/run)")


class Terminal:
    def __init__(self, tmp: Path, command: str) -> None:
        self.socket, self.session = f"acquire-test-{os.getpid()}", "batch"
        self._tmux("new-session", "-d", "-s", self.session, "-x", "220", "-y", "50", command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", self.session)

    def wait_for(self, text: str, timeout_s: float = 40.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def enter(self, keys: str = "") -> None:
        if keys:
            self._tmux("send-keys", "-t", self.session, "-l", keys)
        self._tmux("send-keys", "-t", self.session, "Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_the_operator_is_asked_for_each_disc_and_a_wrong_disc_is_caught_on_screen(tmp_path):
    make_stack(Stack(tmp_path, 3))
    drive = tmp_path / "drive.toml"

    def insert(name: str) -> None:
        drive.write_text(compose_profile(tmp_path / "discs" / f"{name}.toml", {"serial": "SIM-OP"}))

    command = (f"cd {shlex.quote(str(tmp_path))} && PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} "
               f"-m acquire batch queue.csv -o out --drive sim:drive.toml; echo \"batch exit $?\"; sleep 600")
    term = Terminal(tmp_path, command)
    try:
        shown = term.wait_for("press Enter")
        assert ("Insert disc CAT-0001 (label DISC_01, capacity 71) into sim:drive.toml, close the tray, then press "
                "Enter (s: it is missing, q: stop the batch)") in shown
        insert("d02")                             # the operator picks up the wrong disc
        term.enter()
        shown = term.wait_for("Take it out")
        assert ("The disc in sim:drive.toml is not CAT-0001 (label 'DISC_02' where the queue says 'DISC_01'; capacity 78 "
                "where the queue says 71): it is CAT-0002. Take it out, insert CAT-0001, then press Enter") in shown
        insert("d01")
        term.enter()
        shown = term.wait_for("ACCEPT pile")
        assert "CAT-0001     complete -> accept every sector read" in shown
        assert "Take disc CAT-0001 (label DISC_01, capacity 71) out of sim:drive.toml and put it on the ACCEPT pile" in shown
        drive.unlink()
        term.enter()
        term.wait_for("Insert disc CAT-0002")
        insert("d02")
        term.enter()
        term.wait_for("Take disc CAT-0002")
        drive.unlink()
        term.enter()
        term.wait_for("Insert disc CAT-0003")
        term.enter("s")                           # the third disc is not on the shelf
        shown = term.wait_for("batch exit")
        assert "CAT-0003     refused  -> none   the operator could not find the disc" in shown
        assert "2 complete, 0 partial, 0 failed, 1 refused; piles {'accept': 2, 'none': 1}" in shown
        assert "batch exit 3" in shown
    finally:
        term.close()
    manifest = (tmp_path / "out" / "manifest.csv").read_text().splitlines()
    assert [line.split(",")[4] for line in manifest[1:]] == ["complete", "complete", "refused"]


def test_each_drive_of_a_changer_has_its_own_progress_line_on_screen(tmp_path):
    make_stack(Stack(tmp_path, 2, sleep_scale=25.0))           # each disc some 3 s of real time
    command = (f"cd {shlex.quote(str(tmp_path))} && PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} "
               f"-m acquire batch queue.csv -o out --changer sim:changer.toml; echo \"batch exit $?\"; sleep 600")
    term = Terminal(tmp_path, command)
    try:
        deadline, both = time.monotonic() + 60, None
        while time.monotonic() < deadline and both is None:
            lines = term.screen().splitlines()
            a = [line for line in lines if line.startswith("       A  CAT-") and " pass " in line]
            b = [line for line in lines if line.startswith("       B  CAT-") and " pass " in line]
            if a and b:
                both = (a[0], b[0])
            time.sleep(0.1)
        assert both, f"never both drives' progress at once; the screen:\n{term.screen()}"
        for line in both:                                     # e.g. "       A  CAT-0001: copy pass 1   40.8%  ..."
            assert " finished " in line and " bad " in line and "%" in line
        shown = term.wait_for("batch exit")
        assert "2 complete, 0 partial, 0 failed, 0 refused; piles {'accept': 2}" in shown
    finally:
        term.close()
