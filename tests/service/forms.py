"""Signing in through the login form as a browser does (its CSRF token and cookies)."""

from __future__ import annotations

import re

from tests.service.conftest import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client, login: str, password: str = PASSWORD):
    """POSTs the login form; returns the response (a 303 to the home page on success)."""
    token = form_token(client.get("/login").text)
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )


def as_person(client, login: str) -> dict[str, str]:
    """Signs ``client`` in as a person (people have no API tokens) and returns the header that
    carries the session's CSRF token on the API's POSTs, as a page's script would send it."""
    response = sign_in(client, login)
    assert response.status_code == 303, f"{login} could not sign in ({response.status_code})"
    return {"X-CSRF-Token": form_token(client.get("/").text)}
