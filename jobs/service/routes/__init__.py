"""The service's routes: ``api`` (JSON under ``/api/v1``) and ``pages`` (server-rendered)."""
