"""Lanterne's REST API (django-ninja), mounted at /api/: its token
authentication, its errors in French, and its documentation page.

- Authentication: `Authorization: Bearer lnt_…`, an `ApiToken` only. The API
  takes no session cookie, so it needs no CSRF token (a request without a
  token is refused, whatever the browser holds), and a page of another site
  cannot make a logged-in browser act through it.
- Every answer is JSON; errors are `{"detail": "…", "errors": [...]}` with a
  French sentence: 401 without a valid token, 403 for what the token (read
  only) or its login may not do, 404 for what the viewer may not see (as on
  the web: the existence of a dossier is not revealed), 422 for a request
  that does not validate.
- The documentation (/api/docs/) is Swagger UI from django-ninja's own static
  files, started by a script of ours: nothing from a CDN, and nothing inline,
  so the page keeps Lanterne's Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import DocsBase
from ninja.security import HttpBearer

from .common import InvalidInput
from .models import ApiToken
from .routers import condominiums, dossiers, mail
from .services import api_token_authenticate


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <secret>`: an active token of an active login."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return api_token_authenticate(token)


class SwaggerDocs(DocsBase):
    """Swagger UI under Lanterne's Content-Security-Policy: ninja's bundled
    files, started by `api/docs.js` (ninja's own page starts it from an
    inline script, which the policy refuses)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        return render(
            request,
            "api/docs.html",
            {"api": api, "openapi_url": self.get_openapi_url(api, kwargs)},
        )


DESCRIPTION = """\
L'API REST de Lanterne : les copropriétés, lots, contacts, dossiers, leur
chronologie, tâches, décisions, notes, documents et courriels, avec les mêmes
règles d'accès que l'interface web.

**Authentification.** Chaque requête porte un jeton d'API :
`Authorization: Bearer lnt_…`. Un jeton agit au nom de la personne qui l'a
créé, dans un seul cabinet, et voit exactement ce qu'elle voit sur le web
(un copropriétaire, ce qui est publié pour lui ; les coordonnées personnelles
des autres masquées). Un jeton « lecture » ne modifie rien. Créez vos jetons
dans « Mes jetons d'API » (menu du compte) ou avec
`lanterne api-token create --email …`.

**Pagination.** Les listes prennent `limit` (1 à 100, 20 par défaut) et
`offset`, et répondent `count`, `limit`, `offset` et `items`, dans un ordre
stable.

**Erreurs.** `{"detail": "…", "errors": […]}` : 401 sans jeton valide, 403
pour ce que le jeton ou la personne ne peut pas faire, 404 pour ce qui
n'existe pas ou que la personne ne peut pas voir, 422 pour une requête
invalide (les champs en faute dans `errors`).
"""


class LanterneAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        """The view's name (`dossier_list`), rather than ninja's module path:
        what generated clients name their methods after."""
        return str(operation.view_func.__name__)


api = LanterneAPI(
    title="Lanterne",
    version="1",
    description=DESCRIPTION,
    # Nested in lanterne.urls' "api" namespace: its views are "api:v1:<name>".
    urls_namespace="api:v1",
    auth=TokenAuth(),
    docs=SwaggerDocs(),
    docs_url="/docs/",
    openapi_url="/openapi.json",
)
api.add_router("", condominiums.router)
api.add_router("", dossiers.router)
api.add_router("", mail.router)


def _error(
    request: HttpRequest, status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


# --- Errors, in French ---------------------------------------------------------------------


def _field_message(error: dict[str, Any]) -> str:
    """A French sentence for one of pydantic's error types."""
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    messages = {
        "missing": _("Champ obligatoire."),
        "int_parsing": _("Nombre entier attendu."),
        "int_type": _("Nombre entier attendu."),
        "int_from_float": _("Nombre entier attendu."),
        "float_parsing": _("Nombre attendu."),
        "bool_parsing": _("Booléen attendu (true ou false)."),
        "bool_type": _("Booléen attendu (true ou false)."),
        "string_type": _("Texte attendu."),
        "string_too_short": _("Ne peut pas être vide."),
        "no_nul": _("Le caractère NUL n'est pas admis."),
        "date_parsing": _("Date attendue (AAAA-MM-JJ)."),
        "date_from_datetime_parsing": _("Date attendue (AAAA-MM-JJ)."),
        "date_from_datetime_inexact": _("Date attendue (AAAA-MM-JJ)."),
        "date_type": _("Date attendue (AAAA-MM-JJ)."),
        "list_type": _("Liste attendue."),
        "model_type": _("Objet attendu."),
        "model_attributes_type": _("Objet attendu."),
        "dict_type": _("Objet attendu."),
        "enum": _("Valeur inconnue ; valeurs possibles : %(expected)s.")
        % {"expected": _choices(context)},
        "literal_error": _("Valeur inconnue ; valeurs possibles : %(expected)s.")
        % {"expected": _choices(context)},
    }
    if kind in messages:
        return messages[kind]
    if kind in ("greater_than_equal", "greater_than"):
        limit = context.get("ge", context.get("gt", ""))
        return _("Valeur trop petite (minimum : %(limit)s).") % {"limit": limit}
    if kind in ("less_than_equal", "less_than"):
        limit = context.get("le", context.get("lt", ""))
        return _("Valeur trop grande (maximum : %(limit)s).") % {"limit": limit}
    if kind == "string_too_long":
        return _("Texte trop long (%(max)s caractères au plus).") % {
            "max": context.get("max_length", "")
        }
    if kind == "too_long":
        return _("Liste trop longue (%(max)s éléments au plus).") % {
            "max": context.get("max_length", "")
        }
    return _("Valeur invalide.")


def _location(loc: list[Any]) -> list[Any]:
    """Where the error is, as the client wrote it: `["body", "title"]`
    rather than ninja's `["body", "payload", "title"]` (the view's argument)."""
    if len(loc) > 2 and loc[0] == "body" and loc[1] == "payload":
        return [loc[0], *loc[2:]]
    return loc


def _choices(context: dict[str, Any]) -> str:
    # pydantic lists the values as "'a', 'b' or 'c'".
    return str(context.get("expected", "")).replace(" or ", " ou ")


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"loc": _location(list(error.get("loc", []))), "message": _field_message(error)}
        for error in exc.errors
    ]
    return _error(request, 422, _("La requête n'est pas valide."), errors)


@api.exception_handler(InvalidInput)
def _invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    return _error(
        request,
        422,
        _("La requête n'est pas valide."),
        [{"loc": exc.loc, "message": exc.message}],
    )


@api.exception_handler(DjangoValidationError)
def _refused_by_service(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return _error(request, 422, " ".join(str(message) for message in exc.messages))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request,
        401,
        _(
            "Jeton d'API absent, inconnu ou révoqué : envoyez l'en-tête "
            "« Authorization: Bearer <jeton> »."
        ),
    )
    response["WWW-Authenticate"] = 'Bearer realm="Lanterne"'
    return response


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or _("Vous n'avez pas le droit de faire cela."))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, _("Introuvable, ou vous n'y avez pas accès."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        # ninja's answer to a body that is not JSON: one code for every
        # request that does not validate.
        return _error(request, 422, _("Le corps de la requête n'est pas du JSON valide."))
    return _error(request, exc.status_code, exc.message)
