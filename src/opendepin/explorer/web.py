"""The explorer's pages, its static files and the offline API documents, mounted on the node's app.

Every page is one small HTML shell (`static/page.html`) naming its script; the scripts read the node's JSON
API (`/v1/...`) and draw. Everything the browser loads comes from the node itself: the explorer's own
scripts and styles, and the front-end libraries vendored under `static/vendor/` (keccak from
`@noble/hashes` for the "verify my reward" panel, Swagger UI for `/docs`, Redoc for `/redoc`; rebuilt with
`make explorer-assets`). No CDN, no web font, no tile server: the map draws H3 cells on a canvas with no
basemap.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from opendepin.explorer.chain import ChainView
from opendepin.explorer.views import Explorer
from opendepin.node import Node

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"
PAGES = {
    "/": ("Map", "map.js"),
    "/network": ("Network", "network.js"),
    "/epochs": ("Epochs", "epochs.js"),
    "/epochs/{number}": ("Epoch", "epoch.js"),
    "/devices": ("Devices", "devices.js"),
    "/devices/{device_id}": ("Device", "device.js"),
}
"""Path → (title, script) of every explorer page."""


def render_page(title: str, script: str, network: str) -> str:
    """The HTML of one page: the shared shell with its title and script."""
    shell = (STATIC_DIR / "page.html").read_text(encoding="utf-8")
    return (
        shell.replace("{{title}}", html.escape(f"{title} · {network}"))
        .replace("{{network}}", html.escape(network))
        .replace("{{script}}", html.escape(script))
        .replace("{{static}}", STATIC_URL)
    )


def mount_explorer(app: FastAPI, node: Node, chain: ChainView | None = None) -> Explorer:
    """Add the explorer's pages, its static files (gzip-compressed) and `/docs` and `/redoc` served from
    vendored assets to `app`; returns the Explorer its API routes use (also `app.state.explorer`)."""
    explorer = Explorer(node, chain)
    app.state.explorer = explorer
    app.mount(
        STATIC_URL, GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1_024), name="static"
    )
    network = node.config.name

    def add_page(path: str, title: str, script: str) -> None:
        async def page() -> HTMLResponse:
            return HTMLResponse(render_page(title, script, network))

        page.__name__ = f"page_{script.removesuffix('.js')}"
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)

    for path, (title, script) in PAGES.items():
        add_page(path, title, script)

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{STATIC_URL}/vendor/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/vendor/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": 0},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=f"{STATIC_URL}/vendor/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_URL}/favicon.svg",
            with_google_fonts=False,
        )

    return explorer
