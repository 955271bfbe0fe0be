"""Server-rendered pages: intake forms, order pages, network administration."""

from web.pages import (  # noqa: F401  (each adds its routes to bp)
    account,
    admin,
    api_docs,  # noqa: F401  (/api/docs, the API's reference)
    board,  # noqa: F401  (the dispatcher's live board)
    callbacks,  # noqa: F401  (the review clerk's callbacks)
    intake,
    kpis,
    lab,  # noqa: F401  (the policy lab)
    links,  # noqa: F401  (the customer's tracking link on the pages that issue it)
    orders,
    reviews,  # noqa: F401  (the authenticity reviewer's page)
    tech,  # noqa: F401  (the technician's phone app)
    track,
)
from web.pages.base import bp

__all__ = ["bp"]
