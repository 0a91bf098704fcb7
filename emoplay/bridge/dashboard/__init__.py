"""The dashboard's static files (every asset is local: no CDN, no web fonts), served by ``emoplay serve``."""

from __future__ import annotations

from importlib import resources

# URL path -> (file in this package, Content-Type)
DASHBOARD_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}


def dashboard_response_body(path: str) -> tuple[bytes, str]:
    name, content_type = DASHBOARD_FILES[path]
    return resources.files(__name__).joinpath(name).read_bytes(), content_type
