"""Server-rendered pages: intake forms, order pages, network administration."""

from web.pages import account, admin, intake, orders, track  # noqa: F401  (each adds its routes to bp)
from web.pages.base import bp

__all__ = ["bp"]
