"""Turns view models into HTML with the Jinja2 templates in ``templates/`` (autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    # Autoescape everything: names, messages and keys come from departments' data. Charts are
    # Markup built by jobs.reports.charts, which escapes its own labels.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, **context: Any) -> str:
    """Renders ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)
