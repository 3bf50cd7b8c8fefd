"""The page shell every report shares (templates/page.html.j2, Jinja) and its static parts."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import jinja2
from markupsafe import Markup

TEMPLATES = files("cx_insights.report") / "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (TEMPLATES / name).read_text(encoding="utf-8")),
        autoescape=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


@cache
def asset(name: str) -> str:
    """A static file of templates/ (a style sheet, a script), read once."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def page(
    *, title: str, css: str, body: str, head: str = "", script: str = "", viewport: bool = False
) -> str:
    """One self-contained HTML document: `title` is escaped; `css`, `head`, `body` and
    `script` are the caller's own markup, inlined as they are."""
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            title=title,
            css=Markup(css),
            head=Markup(head),
            body=Markup(body),
            script=Markup(script),
            viewport=viewport,
        )
    )
