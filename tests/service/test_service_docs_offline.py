"""/docs works on an air-gapped network: the Swagger UI page loads its JavaScript, CSS and icon
from this server (files of the installed fastapi-offline package), never from a CDN."""

from __future__ import annotations

import re

import httpx


def test_docs_page_loads_every_asset_from_the_server(server, tokens) -> None:
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    page = httpx.get(server.url + "/docs", headers=auth)
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls  # nothing off the server
    assets = [u for u in urls if u.startswith("/docs/assets/")]
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:  # static, public code: served without a token
        response = httpx.get(server.url + asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
    bundle = httpx.get(server.url + "/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    # the assets path opens nothing else without a token
    assert httpx.get(server.url + "/docs/assets/../v1/jobs").status_code in (401, 404)
