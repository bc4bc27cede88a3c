"""Template context: what the navigation needs to know about the viewer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def viewer(request: HttpRequest) -> dict[str, Any]:
    from lanterne.dossiers.policy import viewer_of

    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {
            "viewer": None,
            "viewer_is_staff": False,
            "viewer_is_manager": False,
            "viewer_two_factor": False,
        }
    from .otp import second_factor_pending, two_factor_required

    current = viewer_of(request)
    # Before the second step, a staff member's pages link to nothing they could open.
    staff_pages = current.is_staff_anywhere and not second_factor_pending(request)
    return {
        "viewer": current,
        "viewer_is_staff": staff_pages,
        "viewer_is_manager": staff_pages and bool(current.manager_agency_ids),
        # Whether to link to the « Double authentification » page.
        "viewer_two_factor": staff_pages and two_factor_required(current),
    }
