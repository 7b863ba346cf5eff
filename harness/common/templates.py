"""The Jinja2 environment a package renders its HTML pages from (its `templates/` folder).

Values are escaped by the template, once: a template inserts a `markupsafe.Markup` as it
is and escapes everything else, so Python hands over plain text, or Markup it built with
escaping (`Markup("<b>{}</b>").format(text)`), never HTML it escaped by hand.
"""

from __future__ import annotations

import functools

import jinja2


@functools.cache
def environment(package: str) -> jinja2.Environment:
    """The environment of `package`'s templates (e.g. ``harness.report``), created once.

    Found through the imported package, not the working directory, so installed copies and
    any folder work. Autoescaped; a name the template does not receive fails the render
    instead of printing nothing.
    """
    return jinja2.Environment(loader=jinja2.PackageLoader(package, "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)
