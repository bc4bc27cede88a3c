"""Template context: what the navigation needs to know about the viewer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def viewer(request: HttpRequest) -> dict[str, Any]:
    from lanterne.dossiers.policy import viewer_of

    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"viewer": None, "viewer_is_staff": False, "viewer_is_manager": False}
    current = viewer_of(request)
    return {
        "viewer": current,
        "viewer_is_staff": current.is_staff_anywhere,
        "viewer_is_manager": bool(current.manager_agency_ids),
    }
