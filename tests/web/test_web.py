"""The web app's server side: shell, manifest, service worker, offline page, vendored libraries."""

import json
import struct

import pytest
from django.test import Client

from backcare.web import views
from backcare.web.vendor import NODE_MODULES, VENDOR_DIR, VENDORED


@pytest.fixture
def client():
    return Client()


def test_shell_at_root_sets_the_csrf_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "csrftoken" in response.cookies
    body = response.content.decode()
    assert 'rel="manifest" href="/manifest.webmanifest"' in body
    assert "/static/web/app.js" in body
    assert "http://" not in body and "https://" not in body  # nothing from another host


def test_api_docs_still_served(client):
    assert client.get("/api/docs/").status_code == 200


def test_manifest(client):
    response = client.get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/#/today" and manifest["scope"] == "/"
    assert manifest["theme_color"] == views.THEME_COLOR
    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in manifest["icons"]:
        path = views.STATIC_WEB / icon["src"].removeprefix("/static/web/")
        width, height = struct.unpack(">II", path.read_bytes()[16:24])
        assert icon["sizes"] == f"{width}x{height}"


def test_service_worker_from_root_uncached_with_its_precache(client):
    response = client.get("/sw.js")
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    version = body.split("\n", 1)[0]
    assert version == f"const VERSION = {json.dumps(views.version())};"
    precache = json.loads(body.split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert {"/", "/offline/", "/manifest.webmanifest", "/static/web/app.js", "/static/web/vendor/idb.js"} <= set(
        precache
    )
    for url in precache:
        if url.startswith("/static/"):
            assert (views.STATIC_WEB / url.removeprefix("/static/web/")).is_file(), url


def test_version_changes_with_the_files(tmp_path, monkeypatch):
    before = views._fingerprint()
    monkeypatch.setattr(views, "SW_SOURCE", tmp_path / "sw.js")
    (tmp_path / "sw.js").write_text("// another worker")
    assert views._fingerprint() != before


def test_offline_page(client):
    response = client.get("/offline/")
    assert response.status_code == 200
    assert b"You are offline" in response.content


def test_csrf_endpoint_sets_cookie(client):
    response = client.get("/csrf/")
    assert response.status_code == 204 and "csrftoken" in response.cookies


def test_vendored_libraries_match_node_modules():
    """`make web-assets` copies them; a hand edit or a forgotten copy after an upgrade fails here."""
    if not NODE_MODULES.is_dir():
        pytest.skip("node_modules/ is missing (run `make web-assets` to compare)")
    for name, source in VENDORED.items():
        assert (VENDOR_DIR / name).read_bytes() == (NODE_MODULES / source).read_bytes(), name


def test_vendored_versions_are_the_locked_ones():
    lock = json.loads((views.WEB_DIR.parent.parent / "package-lock.json").read_text())
    package = json.loads((views.WEB_DIR.parent.parent / "package.json").read_text())
    for name, version in package["dependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
