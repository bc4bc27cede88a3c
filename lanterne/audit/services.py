"""Writing to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditAction, AuditLog


def audit_record(
    *,
    actor: Any,
    agency_id: int | None,
    action: AuditAction,
    target: models.Model,
    summary: str,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    """Record that `actor` did `action` on `target` (inside the caller's transaction)."""
    return AuditLog.objects.create(
        agency_id=agency_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        summary=summary[:300],
        changes=changes or {},
    )
