"""The JSON API under /api (documented at /api/openapi.json and /api/docs)."""

from web.api import auth, customer_loop, customers, network, orders, photos, planning, sla  # noqa: F401  (each adds its routes to bp)
from web.api.base import bp

__all__ = ["bp"]
