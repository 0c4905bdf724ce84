"""The workflow store: accounts, sessions, API tokens, grants and requests as transactional state.

A relational database reached through SQLAlchemy 2 (a SQLite file by default, PostgreSQL in
production; ``GOVLAKE_DB_URL``), its schema kept by Alembic migrations in ``migrations/``. It is
the one source of truth for who may act and what was decided; the lake receives snapshots for
reports and retention (DESIGN §9).

* :mod:`jobs.store.db` — engines, sessions and migrations;
* :mod:`jobs.store.models` — the tables;
* :mod:`jobs.store.roles` — roles and who may do what (plain data, no database);
* :mod:`jobs.store.accounts` — accounts, passwords, sessions, API tokens, login throttling;
* :mod:`jobs.store.identity` — the account a CLI decision is signed by;
* :mod:`jobs.store.requests` — requests between departments (校核 tickets first), their state
  machines, events and inboxes;
* :mod:`jobs.store.commands` — ``govlake accounts …`` and ``govlake db …``.
"""
