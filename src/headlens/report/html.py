"""One self-contained HTML file: the report's data as a JSON block, its own CSS and JS inlined.

Safety: the data sits in ``<script type="application/json">`` with ``<``, ``>``, ``&`` and the
JS line separators written as ``\\u`` escapes, so no corpus text can close the block or open a
tag; the page's script puts every value in the DOM with ``textContent``/``setAttribute`` only.
A Content-Security-Policy allows exactly the page's own script and style (by their sha256) and
nothing from anywhere: no network request is possible, and an injected inline script or event
handler would not run either.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from importlib import resources

SCRIPTS = ("views.js", "report.js")  # the analyses' own scripts go between them: report.js draws with all of them
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _asset(name: str) -> str:
    return (resources.files("headlens.report") / "assets" / name).read_text(encoding="utf-8")


def section_scripts() -> str:
    """The page scripts of the analyses that draw their own section (``Analysis.script``, in analyses/<name>/)."""
    from ..analyses.registry import ANALYSES

    return "\n".join((resources.files("headlens.analyses") / a.name / a.script).read_text(encoding="utf-8")
                     for a in ANALYSES.values() if a.script)


def json_for_script(data: dict) -> str:
    """JSON text that is safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` left)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render(data: dict) -> str:
    parts = [_asset(name) for name in SCRIPTS[:-1]] + [section_scripts(), _asset(SCRIPTS[-1])]
    css, js = _asset("report.css"), "\n".join(parts)
    js_name = " + ".join(SCRIPTS[:-1] + ("the sections' scripts", SCRIPTS[-1]))
    for name, text, closing in (("report.css", css, "</style"), (js_name, js, "</script")):
        if closing in text.lower():  # pragma: no cover - a guard on our own assets
            raise ValueError(f"{name} must not contain {closing!r}")
    csp = (f"default-src 'none'; script-src '{_sha256(js)}'; style-src '{_sha256(css)}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"generator\" content=\"headlens report\">\n"
        f"<title>{html.escape(str(data.get('title', 'headlens report')))}</title>\n"
        f"<style>{css}</style>\n</head>\n<body>\n"
        "<header><h1 id=\"title\"></h1><nav id=\"nav\" aria-label=\"sections\"></nav></header>\n"
        "<main id=\"main\"><noscript><p>This report draws its views with JavaScript, which is off in this "
        "browser.</p></noscript></main>\n"
        "<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n"
        f"<script type=\"application/json\" id=\"headlens-data\">{json_for_script(data)}</script>\n"
        f"<script>{js}</script>\n</body>\n</html>\n"
    )
