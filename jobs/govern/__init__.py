"""Governance of the base databases: verification tickets (校核) and their deadlines.

:mod:`jobs.govern.tickets` keeps the ticket lifecycle (open → extended → resolved / confirmed,
overdue → escalated) as requests of the workflow store (:mod:`jobs.store.requests`), with an
append-only event log of who did what and why; :mod:`jobs.govern.inbox` says what a department
must act on; :mod:`jobs.govern.commands` adds ``govlake tickets``.
"""
