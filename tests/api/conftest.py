"""Fixtures of the API tests: tokens for the world's roles, and a client that
sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from lanterne.api.services import api_token_create

from ..conftest import World


class ApiClient:
    """A test client sending `Authorization: Bearer <secret>` (or nothing)."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, headers=self._headers())

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers()
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            path, body, content_type="application/json", headers=self._headers()
        )


def agency_of(world: World, role: str) -> Any:
    return world.other_agency if role == "staff_other_agency" else world.agency


@pytest.fixture
def token_for(world: World) -> Callable[..., str | None]:
    """The secret of a new token of `role` in their agency (None: anonymous)."""

    def make(role: str, scope: str = "write") -> str | None:
        user = world.users[role]
        if user is None:
            return None
        issued = api_token_create(
            actor=None,
            user=user,
            agency=agency_of(world, role),
            scope=scope,
            name=f"{role} {scope}",
        )
        return issued.secret

    return make


@pytest.fixture
def api_as(token_for: Callable[..., str | None]) -> Callable[..., ApiClient]:
    """A client for `role` with a token of `scope` ("read" or "write")."""

    def make(role: str, scope: str = "write") -> ApiClient:
        return ApiClient(token_for(role, scope))

    return make
