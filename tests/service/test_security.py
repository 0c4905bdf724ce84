from __future__ import annotations

import pytest

from jobs.service.security import Origin, cookie_is_secure, request_origin
from jobs.settings import Settings

PROXIES = "10.0.0.0/24,fd00::/64"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "forwarded_proto", "origin"),
    [
        ("198.51.100.9", "192.0.2.1", "https", Origin("198.51.100.9", False)),  # not a proxy
        ("10.0.0.2", "192.0.2.1", "https", Origin("192.0.2.1", True)),
        ("10.0.0.2", "192.0.2.66, 192.0.2.1", "http", Origin("192.0.2.1", False)),  # forged left
        ("10.0.0.2", "192.0.2.1, 10.0.0.3", "https,https", Origin("192.0.2.1", True)),
        ("10.0.0.2", None, None, Origin("10.0.0.2", False)),
        ("fd00::2", "2001:db8::7", "https", Origin("2001:db8::7", True)),
        (None, "192.0.2.1", "https", Origin("unknown", False)),
        ("testclient", "192.0.2.1", "https", Origin("testclient", False)),
    ],
)
def test_forwarded_headers_count_only_from_a_trusted_proxy(
    peer, forwarded_for, forwarded_proto, origin
):
    assert request_origin(peer, "http", forwarded_for, forwarded_proto, PROXIES) == origin


def test_no_trusted_proxy_ignores_every_forwarded_header():
    assert request_origin("10.0.0.2", "https", "192.0.2.1", "http", "") == Origin("10.0.0.2", True)


@pytest.mark.parametrize(
    ("env", "setting", "hostname", "secure"),
    [
        ("development", "auto", "localhost", False),
        ("development", "auto", "data.bureau.example", True),
        ("production", "auto", "localhost", True),
        ("production", "false", "data.bureau.example", False),
        ("development", "true", "localhost", True),
    ],
)
def test_cookies_are_secure_in_production_unless_switched_off(env, setting, hostname, secure):
    settings = Settings(env=env, cookie_secure=setting)
    assert cookie_is_secure(settings, hostname) is secure
