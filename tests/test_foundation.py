"""The foundation: health, the page shell, security headers, offline assets."""

import re

from bptt_studio.core.paths import TEMPLATES_DIR
from bptt_studio.core.version import __version__


def test_get_health_answers_status_and_package_version(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_get_root_serves_html_page_with_product_name(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>BPTT Studio" in response.text


def test_html_response_carries_strict_security_headers(client):
    headers = client.get("/").headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_api_response_carries_security_headers_too(client):
    headers = client.get("/api/v1/health").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_plotly_js_is_served_from_installed_package_gzipped(client):
    response = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert "max-age=31536000" in response.headers["cache-control"]
    assert len(response.content) > 1_000_000  # the real bundle, decompressed by the client


def test_favicon_is_served_so_browsers_log_no_404(client):
    assert client.get("/favicon.ico").status_code == 200


def test_static_files_are_served(client):
    response = client.get("/static/css/studio.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


def test_templates_hold_no_inline_script_or_handler():
    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), template.name


def test_templates_and_static_load_nothing_from_the_internet():
    from bptt_studio.core.paths import STATIC_DIR

    pattern = re.compile(r"(src|href)\s*=\s*[\"']https?://", re.IGNORECASE)
    for folder in (TEMPLATES_DIR, STATIC_DIR):
        for path in folder.rglob("*"):
            if path.suffix in {".html", ".js", ".css"}:
                assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_docs_page_works_offline_with_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert "cdn.jsdelivr.net" not in response.text
    assert "unpkg.com" not in response.text
    assets = re.findall(r"(?:src|href)=['\"](/[^'\"]+)['\"]", response.text)
    assert assets, "the docs page should reference local assets"
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
