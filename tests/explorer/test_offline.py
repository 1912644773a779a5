"""Nothing the explorer ships makes a browser fetch from another host: every page, script, style and vendored
library is scanned for a remote `src`, `href`, `url(` or `import` (the browser test proves it page by page;
this proves it for every file, including code paths no test clicks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.explorer.web import PAGES, STATIC_DIR
from opendepin.node import Node

REMOTE = r"""(?:https?:)?//(?!127\.0\.0\.1|localhost)"""
REMOTE_LOAD = re.compile(
    r"""(?:\bsrc\s*[:=]\s*["']?|\bhref\s*=\s*["']?|url\(\s*["']?|\bimport\s*\(?\s*["']|\bfrom\s+["'])"""
    + REMOTE
)
SHIPPED = sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in {".js", ".css", ".html", ".svg"})


def test_the_scanner_catches_what_it_must() -> None:
    for bad in [
        'src="https://cdn.example/x.js"',
        'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"',
        "href='//fonts.googleapis.com/css'",
        "url(https://fonts.gstatic.com/a.woff2)",
        'import "https://esm.sh/x"',
        'import("https://esm.sh/x")',
        'from "https://esm.sh/x"',
    ]:
        assert REMOTE_LOAD.search(bad), bad
    for fine in [
        'src="/static/map.js"',
        'href="http://127.0.0.1:8080/"',
        'xmlns="http://www.w3.org/2000/svg"',
    ]:
        assert not REMOTE_LOAD.search(fine), fine


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_no_shipped_file_loads_from_elsewhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [text[max(0, m.start() - 40) : m.end() + 60] for m in REMOTE_LOAD.finditer(text)]
    assert found == [], found[:3]
    # a source map the node does not ship would be fetched by devtools (inline data: maps are fine)
    assert not re.search(r"sourceMappingURL=(?!data:)[\w./-]+\.map", text)


def test_every_page_and_what_it_references_is_served(node: Node) -> None:
    client = TestClient(create_app(node))
    for path in PAGES:
        page = client.get(path.replace("{number}", "0").replace("{device_id}", "ed25519:00"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert not REMOTE_LOAD.search(page.text)
        for ref in re.findall(r"""(?:src|href)=["'](/[^"'#?]+)""", page.text):
            assert client.get(ref).status_code == 200, ref
    scripts = [p for p in SHIPPED if p.suffix == ".js" and "vendor" not in p.parts]
    for script in scripts:  # module imports between the explorer's scripts resolve to served files
        for target in re.findall(r"""from\s+["'](\./[^"']+)["']""", script.read_text()):
            assert (script.parent / target).resolve().exists(), (script.name, target)
