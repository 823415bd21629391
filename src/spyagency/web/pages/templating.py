"""The Jinja2 environment of the pages: autoescaping everywhere, undefined names are errors,
and the presentation helpers every template may call."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from spyagency.web.pages import formatting, presentation
from spyagency.web.pages.row_cells import cells_html


def build_environment() -> Environment:
    """One environment per app (built by ``router``, never at import time)."""
    environment = Environment(
        loader=PackageLoader("spyagency.web", "templates"),
        # Every template is HTML: escape whatever its extension, including partials.
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals.update(
        state_look=presentation.state_look,
        verdict_look=presentation.verdict_look,
        source_css=presentation.source_css,
        when=formatting.when,
        when_seconds=formatting.when_seconds,
        iso=formatting.iso,
        duration=formatting.duration,
        cells_html=cells_html,
    )
    return environment
