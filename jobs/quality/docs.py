"""The Data Docs site: GX's own static site, made browsable offline.

GX builds the site (index, one page per suite, one per validation result) under
``<reports_root>/data_docs/`` from the validation results in its project
(:mod:`jobs.quality.validate`). Its pages load jQuery, Bootstrap and bootstrap-table from public
CDNs, and the index and result tables are drawn by those scripts, so on a government network
without internet access the site is empty. :func:`make_offline` copies the same library versions,
vendored in ``jobs/quality/docs_assets/`` (see its README), into ``static/vendor/`` and rewrites
every page to use them; icons become Unicode glyphs (``govlake-icons.css``); scripts and styles
that are not vendored (charts, dark mode) are removed, so no page makes a network request.

A validation task builds only what it changed (:func:`update_data_docs`): the pages of the
results it stored, its suite's page and the index, whose rows of earlier results come from a
listing (:class:`jobs.quality.docs_views.SiteIndexBuilder`), so a task's build does not grow with
the history. ``govlake quality docs`` (:func:`build_data_docs`) rebuilds every page and the
listing, for when GX, the templates or the styles change.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from jobs.settings import Settings

ASSETS_DIR = Path(__file__).with_name("docs_assets")
VENDOR = "static/vendor"

#: CDN address (as GX 1.24's templates write it) → vendored file name.
VENDORED: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper-1.12.9.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": "bootstrap-table-filter-control-1.19.1.min.css",
    # The index's run-time filter is a datepicker: without the plugin bootstrap-table's
    # filter-control throws and the result list is not drawn.
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0.min.css",
    # Icons (pass/fail marks of the index) as Unicode glyphs, not the Font Awesome webfont.
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "govlake-icons.css",
}
#: GX's navbar logo lives on a public bucket; the site has the same image in static/images.
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*/logo-long\.png[^\"']*")
_SCRIPT_TAG = re.compile(r"<script\b[^>]*\bsrc=\"(https?://[^\"]+)\"[^>]*>\s*</script>", re.I)
_LINK_TAG = re.compile(r"<link\b[^>]*\bhref=\"(https?://[^\"]+)\"[^>]*/?>", re.I)
_SRI = re.compile(r"\s(integrity|crossorigin)=\"[^\"]*\"", re.I)


def site_dir(settings: Settings) -> Path:
    """The Data Docs folder: ``<reports_root>/data_docs``."""
    return Path(settings.reports_root) / "data_docs"


def _prefix(page: Path, root: Path) -> str:
    depth = len(page.relative_to(root).parts) - 1
    return "../" * depth


def offline_html(html: str, prefix: str) -> str:
    """One page with vendored assets (relative to the site root) and no external loads."""

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if url in VENDORED:
            return f'<script src="{prefix}{VENDOR}/{VENDORED[url]}"></script>'
        return f"<!-- govlake offline: removed {url} -->"

    def link(match: re.Match[str]) -> str:
        url = match.group(1)
        tag = match.group(0)
        if "stylesheet" not in tag.lower():
            return tag
        if url in VENDORED:
            return f'<link rel="stylesheet" href="{prefix}{VENDOR}/{VENDORED[url]}"/>'
        return f"<!-- govlake offline: removed {url} -->"

    html = _SCRIPT_TAG.sub(script, html)
    html = _LINK_TAG.sub(link, html)
    html = _LOGO.sub(f"{prefix}static/images/logo-long.png", html)
    return _SRI.sub("", html)


def page_path(root: Path | str, identifier: Any) -> Path:
    """The page GX writes for a validation result or suite identifier (as its index links it)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    if isinstance(identifier, ExpectationSuiteIdentifier):
        return Path(root, "expectations", *identifier.name.split(".")).with_suffix(".html")
    *folders, page = identifier.to_tuple()
    return Path(root, "validations", *folders, f"{page}.html")


def make_offline(root: Path | str, pages: Iterable[Path] | None = None) -> int:
    """Copies the vendored assets into the site and rewrites its pages (``pages`` only, when
    given); returns pages changed.

    Idempotent: a page already rewritten has no CDN address left and is not touched again.
    """
    root = Path(root)
    if not root.is_dir():
        return 0
    vendor = root / VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS_DIR.iterdir():
        if asset.suffix in {".js", ".css", ".txt"}:
            target = vendor / asset.name
            if not target.exists() or target.stat().st_size != asset.stat().st_size:
                shutil.copyfile(asset, target)
    changed = 0
    for page in root.rglob("*.html") if pages is None else pages:
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        if "https://" not in text:
            continue
        new = offline_html(text, _prefix(page, root))
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def external_loads(html: str) -> list[str]:
    """Addresses a page would fetch from the network (scripts, stylesheets, images)."""
    pattern = re.compile(
        r"<(?:script|img|iframe)\b[^>]*\bsrc=\"(https?://[^\"]+)\"|<link\b[^>]*\bhref=\"(https?://[^\"]+)\"",
        re.I,
    )
    return [a or b for a, b in pattern.findall(html)]


def update_data_docs(settings: Settings, context: Any, identifiers: Sequence[Any]) -> None:
    """Builds the pages of ``identifiers`` (validation results, suites) and the index, offline.

    Every other page is left as it is. Call it under :func:`jobs.quality.validate.gx_lock`.
    """
    from jobs.quality.validate import SITE_NAME

    root = site_dir(settings)
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=list(identifiers))
    make_offline(root, [root / "index.html", *(page_path(root, i) for i in identifiers)])


def build_data_docs(settings: Settings) -> Path:
    """Rebuilds the whole site from the GX project's stored results, then makes it offline.

    The index's listing is rebuilt too, from every stored result. Returns the path of
    ``index.html``.
    """
    from jobs.quality.docs_views import listing_path
    from jobs.quality.validate import SITE_NAME, gx_context, gx_lock

    with gx_lock(settings):
        context = gx_context(settings)
        listing_path(site_dir(settings)).unlink(missing_ok=True)
        context.build_data_docs(site_names=[SITE_NAME])
        make_offline(site_dir(settings))
    return site_dir(settings) / "index.html"
