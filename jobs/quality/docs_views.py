"""Great Expectations' Data Docs views, with their Jinja templates compiled once per process.

GX builds a new view (and so a new Jinja environment) for every site build, and Jinja compiles
every template again in a new environment: about fifty templates per build, most of the time a
build of one validation's page takes. These views are GX's own page and index views whose
environment shares one in-memory bytecode cache (Jinja's ``bytecode_cache``), so a template is
compiled once per process and the pages are the same. The Data Docs site names them in its
configuration (:func:`jobs.quality.validate.site_config`); GX imports this module when it builds
the site.
"""

from __future__ import annotations

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class ProcessBytecodeCache(BytecodeCache):
    """Jinja's compiled templates kept in memory, by template and source checksum (Jinja
    checks the checksum, so a changed template is compiled again)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = ProcessBytecodeCache()


class PageView(DefaultJinjaPageView):
    """GX's page view (suite and validation pages), templates compiled once per process."""

    # Named as GX's own: GX passes a view only the runtime arguments its signature names.
    def __init__(
        self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None
    ) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = TEMPLATES


class IndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, templates compiled once per process."""

    # Named as GX's own: GX passes a view only the runtime arguments its signature names.
    def __init__(
        self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None
    ) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = TEMPLATES
