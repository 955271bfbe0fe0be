"""Server-rendered pages: intake forms, order pages, network administration."""

from web.pages import (  # noqa: F401  (each adds its routes to bp)
    account,
    admin,
    board,  # noqa: F401  (the dispatcher's live board)
    intake,
    kpis,
    orders,
    tech,  # noqa: F401  (the technician's phone app)
    track,
)
from web.pages.base import bp

__all__ = ["bp"]
