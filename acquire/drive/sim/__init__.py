"""The simulated drive: a real MMC target in Python over an image and a damage profile.

    target.py    SimulatedDrive, the Transport: CDB dispatch, events, the clock, the trace
    reads.py     READ(10), READ(12), READ CD: tracks, damage, the clock formula
    answers.py   every other command, as plain functions over the DriveState
    toc.py       READ TOC 0/1/2, READ DISC INFORMATION, READ TRACK INFORMATION from the layout
    structures.py  PMA, ATIP, CD-TEXT, BCA, DMI, BD disc information, READ SUB-CHANNEL
    layout.py    where each track lies and what is not recorded (run-out, gaps, unrecorded)
    state.py     DriveState: what the drive remembers between commands
    codes.py     its own spelling of opcodes, sense codes, MSF (shares nothing with mmc)
    profile.py   the TOML profile: load, check, hold (tracks.py: [[track]]; checks.py: shared checks)
    quirks.py    the [drive] quirk keys and the QEMU presets

Only acquire/drive/device.py (open_transport, for `sim:PROFILE.toml`) imports this package;
it imports nothing from mmc, sense or guard (tests/test_layering.py). docs/simulated-drive.md.
"""
from __future__ import annotations

from .profile import Damage, DamageMap, Profile, load_profile
from .reads import generated_sector
from .target import SimulatedDrive

__all__ = ["Damage", "DamageMap", "Profile", "SimulatedDrive", "generated_sector", "load_profile"]
