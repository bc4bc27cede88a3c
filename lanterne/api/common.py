"""What every endpoint shares: who is asking (the token and its viewer), the
write check, pagination, and the errors every operation declares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import P, PathEx
from ninja.errors import HttpError

from lanterne.dossiers import policy

from .models import ApiToken
from .schemas import MAX_ID, ErrorOut, PageParams

M = TypeVar("M", bound=Model)

# The errors an operation may answer, by status, in its OpenAPI description.
# Every operation needs a token (401) and may get a query or body that does
# not validate (422); those about one object say 404 when the viewer may not
# see it; writes answer 403 to what the token or its login may not do.
READ_ERRORS = (401, 422)
OBJECT_ERRORS = (401, 404, 422)
WRITE_ERRORS = (401, 403, 404, 422)


def responses(ok: dict[int, Any], errors: Sequence[int] = OBJECT_ERRORS) -> dict[int, Any]:
    return {**ok, **dict.fromkeys(errors, ErrorOut)}


class InvalidInput(Exception):
    """A request that validates against the schema but names something the
    viewer cannot use (an unknown lot, a person of another agency): a 422,
    with the same message whether the thing exists elsewhere or not."""

    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def token_of(request: HttpRequest) -> ApiToken:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token


def viewer_of(request: HttpRequest) -> policy.Viewer:
    """The token's login, as the policy sees it within the token's agency
    (read once per request). Kept apart from `policy.viewer_of`, which is the
    session's viewer: an API request is answered for its token only."""
    viewer = getattr(request, "_lanterne_api_viewer", None)
    if viewer is None:
        token = token_of(request)
        viewer = policy.Viewer.for_user(token.user, agency_id=token.agency_id)
        request._lanterne_api_viewer = viewer  # type: ignore[attr-defined]
    return viewer


def require(allowed: bool) -> None:
    """403 for what the policy refuses the viewer (the services say the same)."""
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def require_write(request: HttpRequest) -> None:
    """A read token writes nothing, whatever its login may do on the web."""
    if not token_of(request).may_write:
        raise HttpError(403, _("Ce jeton ne permet que la lecture."))


def paginate(
    queryset: QuerySet[M],
    page: PageParams,
    convert: Callable[[list[M]], Iterable[Any]],
) -> dict[str, Any]:
    """One page of `queryset` (which has its stable order), its items
    converted by `convert` — which gets the whole page at once, to load what
    the page needs in a constant number of queries."""
    rows = list(queryset[page.offset : page.offset + page.limit])
    return {
        "count": queryset.count(),
        "limit": page.limit,
        "offset": page.offset,
        "items": list(convert(rows)),
    }


def not_found() -> NoReturn:
    raise Http404


def found(instance: M | None) -> M:
    """`instance`, or a 404: what the viewer may not see does not exist for
    them (the web answers the same)."""
    if instance is None:
        raise Http404
    return instance


# A path's object id: positive, within a 64-bit primary key (a larger number
# would overflow the database's integer, not find nothing).
PathId = PathEx[int, P(ge=1, le=MAX_ID)]
