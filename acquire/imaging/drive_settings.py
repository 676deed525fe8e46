"""The drive set up for rescue for one run (read speed, error-recovery page 01h PER), each change
recorded in the record's `settings`, and undone at the end of the run."""
from __future__ import annotations

import dataclasses

from ..drive import mmc
from ..drive.device import Drive
from ..drive.profiles import KBPS_1X
from ..errors import AcquireError
from ..record import Record

SET_CD_SPEED_MAX = 0xFFFF                # "as fast as the drive can"


class DriveSettings:
    """Speed and error-recovery changes for the run, recorded, and restored at the end."""

    def __init__(self, drive: Drive, record: Record, run_id: int, *, speed: str | None, family: str) -> None:
        self.drive, self.record, self.run_id, self.speed, self.family = drive, record, run_id, speed, family
        self.original_page: bytes | None = None
        self.speed_changed = False

    def apply(self) -> None:
        self._set_speed()
        self._report_recovered_errors()

    def _set_speed(self) -> None:
        if self.speed is None:
            return
        kbps = SET_CD_SPEED_MAX if self.speed == "max" else int(float(self.speed) * KBPS_1X[self.family])
        if self.drive.data(mmc.set_cd_speed(read_kbps=min(kbps, SET_CD_SPEED_MAX)), 0,
                           what="SET CD SPEED (reading at the drive's own speed)") is not None:
            self.speed_changed = True
            self.record.record_setting(self.run_id, "read speed", "drive default", self.speed)

    def _report_recovered_errors(self) -> None:
        """PER: the drive reports recovered errors (SK 1), so marginal sectors reach the damage log."""
        drive = self.drive
        raw = drive.data(mmc.mode_sense_10(0x01), 256, what="MODE SENSE(10) page 01h")
        mask_raw = drive.data(mmc.mode_sense_10(0x01, page_control=1), 256, what="MODE SENSE(10) page 01h changeable")
        if raw is None or mask_raw is None:
            return
        try:
            current = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(raw))
            mask = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(mask_raw))
        except AcquireError:
            return
        if current.per or not mask.per:
            return
        params = mmc.mode_select_10_parameters(dataclasses.replace(current, per=True).to_bytes())
        if drive.data(mmc.mode_select_10(len(params)), 0, data_out=params,
                      what="MODE SELECT(10) page 01h (keeping the drive's error recovery)") is not None:
            self.original_page = current.to_bytes()
            self.record.record_setting(self.run_id, "error recovery PER", "0", "1")

    def undo(self) -> None:
        drive = self.drive
        try:
            if self.original_page is not None:
                params = mmc.mode_select_10_parameters(self.original_page)
                if drive.data(mmc.mode_select_10(len(params)), 0, data_out=params, what="MODE SELECT restore") is not None:
                    self.record.record_setting(self.run_id, "error recovery PER", "1", "0 (restored)")
                self.original_page = None
            if self.speed_changed:
                drive.data(mmc.set_cd_speed(read_kbps=SET_CD_SPEED_MAX), 0, what="SET CD SPEED restore")
                self.record.record_setting(self.run_id, "read speed", self.speed, "max (restored)")
                self.speed_changed = False
        except AcquireError:
            pass                          # the drive is gone: nothing to restore
