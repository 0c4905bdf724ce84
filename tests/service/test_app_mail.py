from __future__ import annotations

import dataclasses

from jobs.store import mail
from tests.ports import free_port


def test_the_app_hands_its_mail_to_a_courier_while_it_serves_and_only_with_mail_on(
    lake_settings, identity, data, shares
):
    from fastapi.testclient import TestClient

    from jobs.service.app import create_app
    from tests.service.conftest import MemoryAudit

    def serving(settings):
        app = create_app(
            settings, identity=identity, data=data, shares=shares, audit=MemoryAudit(data)
        )
        with TestClient(app, base_url="http://localhost"):
            return dict(mail._couriers)

    with_mail = dataclasses.replace(lake_settings, smtp_host="127.0.0.1", smtp_port=free_port())

    assert list(serving(with_mail)) == [with_mail.database_url]
    assert serving(lake_settings) == {} and mail._couriers == {}
