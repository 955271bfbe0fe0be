"""The JSON API under /api (documented at /api/openapi.json and /api/docs)."""

from web.api import (  # noqa: F401  (each adds its routes to bp)
    auth,
    board,  # noqa: F401  (the live board's snapshot)
    complaints,
    customer_loop,
    customers,
    forecast,  # noqa: F401  (today's miss forecast and its what-if)
    kpis,
    lab,  # noqa: F401  (the policy lab's runs)
    locations,  # noqa: F401  (address search, correcting an order's address)
    network,
    orders,
    parts,  # noqa: F401  (waiting for parts: the phone's request, the part's arrival, the queue)
    photos,
    planning,
    sla,
    tech,  # noqa: F401  (the technician's phone app)
    timeline,  # noqa: F401  (the board's timeline: technicians' days, drops, pins)
)
from web.api.base import bp

__all__ = ["bp"]
