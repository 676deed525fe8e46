"""`acquire batch`: a queue of discs through one or several drives, a changer or an operator
(docs/batch.md)."""
from __future__ import annotations

from .changer import open_changer
from .queue import Job, load_queue
from .runner import BatchOptions, BatchResult, run_batch
from .verdict import parse_rule

__all__ = ["BatchOptions", "BatchResult", "Job", "load_queue", "open_changer", "parse_rule", "run_batch"]
