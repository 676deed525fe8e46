"""Fixity audits of a collection (docs/audit.md): `run_audit(TARGET)` re-verifies every image and record."""
from __future__ import annotations

from .progress import AuditProgress
from .run import EVENT, AuditReport, resolve, run_audit

__all__ = ["EVENT", "AuditProgress", "AuditReport", "resolve", "run_audit"]
