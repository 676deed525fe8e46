"""`acquire image`: the rescue engine wired to the image, the hashes and the record.

run.py is the lifecycle; resume.py, drive_settings.py, sink.py and checkpoint.py its parts.
"""
from __future__ import annotations

from .run import ImageOptions, Outcome, Run, acquire_image
from .sink import Progress

__all__ = ["ImageOptions", "Outcome", "Progress", "Run", "acquire_image"]
