"""The limits on what the API accepts.

The request schemas in ``schemas.py`` enforce them (and so the OpenAPI document states them);
limits that depend on the server (body size, pixels, tolerance) come from the configuration,
see ``openapi.limits``.
"""

from __future__ import annotations

PER_PAGE_MAX = 100
PER_PAGE_DEFAULT = 20
PAGE_MAX = 1_000_000
QUERY_MAX = 100
IMAGES_MAX = 20
