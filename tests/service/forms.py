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
