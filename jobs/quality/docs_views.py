"""Great Expectations' Data Docs views and index builder, made cheap to run after every validation.

GX builds a new view (and so a new Jinja environment) for every site build, and Jinja compiles
every template again in a new environment: about fifty templates per build, most of the time a
build of one validation's page takes. These views are GX's own page and index views whose
environment shares one in-memory bytecode cache (Jinja's ``bytecode_cache``), so a template is
compiled once per process and the pages are the same. The Data Docs site names them in its
configuration (:func:`jobs.quality.validate.site_config`); GX imports this module when it builds
the site.

GX's index builder reads and deserialises every stored validation result on every build, for
four fields of the index's row (verdict, asset name, batch kwargs and spec): after a year of daily
batches that is most of a task's site build, and it grows. :class:`SiteIndexBuilder` keeps those
fields in a listing next to the index (:data:`LISTING`), so a build reads only the results the
listing does not have yet (those validated since); a result is stored once under its own run id,
so a listed row never goes stale. The index lists the same results, in the same order, as GX's.
GX's section builder lists every stored result to find the few it was asked to render;
:class:`SiteSectionBuilder` looks those up by key.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
)
from great_expectations.render.renderer.site_builder import (
    FALSEY_YAML_STRINGS,
    DefaultSiteIndexBuilder,
    DefaultSiteSectionBuilder,
    _resolve_asset_name,
)
from great_expectations.render.util import resource_key_passes_run_name_filter
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

logger = logging.getLogger(__name__)

#: The index's row of every listed validation result, by result key, in the site's root.
LISTING = "govlake-index-listing.json"


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


class SiteSectionBuilder(DefaultSiteSectionBuilder):
    """GX's section builder (suite or validation pages); asked for some resources, it looks them
    up in its store instead of listing every key the store holds."""

    def build(self, resource_identifiers: list | None = None) -> None:
        if not resource_identifiers or self.validation_results_limit:
            super().build(resource_identifiers)
            return
        store = self.source_store
        wanted = [
            key
            for key in resource_identifiers
            if isinstance(key, store.key_class) and store.has_key(key)
        ]
        self.source_store = _Listing(store, wanted)
        try:
            super().build(resource_identifiers)
        finally:
            self.source_store = store


class _Listing:
    """A store whose keys are the given ones (everything else is the store's)."""

    def __init__(self, store: Any, keys: list) -> None:
        self._store = store
        self._keys = keys

    def list_keys(self) -> list:
        return self._keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def listing_path(site_root: Path | str) -> Path:
    """Where :class:`SiteIndexBuilder` keeps its listing in a site."""
    return Path(site_root) / LISTING


class SiteIndexBuilder(DefaultSiteIndexBuilder):
    """GX's index builder, reading a validation result only the first time it lists it."""

    def _add_validations_to_index_links(
        self, index_links_dict: OrderedDict, validation_and_profiling_result_site_keys: list
    ) -> None:
        validations = self.site_section_builders_config.get("validations", "None")
        if not validations or validations in FALSEY_YAML_STRINGS:
            return
        run_name_filter = self.site_section_builders_config["validations"]["run_name_filter"]
        keys = sorted(
            (
                key
                for key in validation_and_profiling_result_site_keys
                if resource_key_passes_run_name_filter(key, run_name_filter)
            ),
            key=lambda key: key.run_id.run_time,
            reverse=True,
        )
        if self.validation_results_limit:
            keys = keys[: self.validation_results_limit]
        path = listing_path(self.target_store.store_backends["index_page"].full_base_directory)
        listed = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        rows: dict[str, dict[str, Any]] = {}
        for key in keys:
            name = "/".join(key.to_tuple())
            row = listed.get(name) or self._index_row(key)
            if row is None:
                continue
            rows[name] = row
            self.add_resource_info_to_index_links_dict(
                index_links_dict=index_links_dict,
                expectation_suite_name=key.expectation_suite_identifier.name,
                section_name="validations",
                batch_identifier=key.batch_identifier,
                run_id=key.run_id,
                validation_success=row["success"],
                run_time=key.run_id.run_time,
                run_name=key.run_id.run_name,
                asset_name=row["asset_name"],
                batch_kwargs=row["batch_kwargs"],
                batch_spec=row["batch_spec"],
            )
        if rows != listed:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            os.replace(partial, path)

    def _index_row(self, key: Any) -> dict[str, Any] | None:
        """The fields of the index's row, read from the stored result (None when missing)."""
        try:
            validation = self.data_context.get_validation_result(
                batch_identifier=key.batch_identifier,
                expectation_suite_name=key.expectation_suite_identifier.name,
                run_id=key.run_id,
                validation_results_store_name=self.source_stores.get("validations"),
            )
        except Exception:  # as GX's builder: an unreadable result is left out of the index
            validation = None
        if not isinstance(validation, ExpectationSuiteValidationResult):
            logger.warning("Validation result not found: %s - skipping", key.to_tuple())
            return None
        return {
            "success": validation.success,
            "asset_name": _resolve_asset_name(validation),
            # Through JSON as they will be read back, so a listed row equals a fresh one.
            "batch_kwargs": json.loads(json.dumps(validation.meta.get("batch_kwargs", {}))),
            "batch_spec": json.loads(json.dumps(validation.meta.get("batch_spec", {}))),
        }
