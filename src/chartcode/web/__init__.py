"""The coder workbench, served at ``/`` by the HTTP API (:func:`chartcode.api.app.create_app`).

``static/`` holds index.html, app.js and its ES modules (api.js, highlight.js, charts.js) and app.css.
There is no build step: the browser loads the modules as they are.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
