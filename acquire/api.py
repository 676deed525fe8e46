"""The public API's functions that join layers: `acquire_image` is imaging (acquire.imaging) with
the content step after the copy (acquire.fs.describe), which imaging, below fs, cannot import."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .fs.describe import describe_image
from .imaging import ImageOptions, Outcome, Progress
from .imaging import acquire_image as _acquire_image


def acquire_image(device: str, image: Path, options: ImageOptions,
                  on_progress: Callable[[Progress], None] | None = None) -> Outcome:
    """Image `device` into `image` (resuming from its record), then read the volume label and
    analyse the file systems, all sealed in the run's record."""
    return _acquire_image(device, image, options, on_progress, describe=describe_image)


__all__ = ["ImageOptions", "Outcome", "acquire_image"]
