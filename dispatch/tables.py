"""Every table of the product, so that `metadata` is complete (Alembic and the tests' set-up).

It lives in dispatch/, the highest domain layer, because it must name every layer's tables:
core/ is the ground floor and imports nothing above it."""

from core import accounts, audit, db, leases  # noqa: F401
from dispatch import models as dispatch_models  # noqa: F401
from technicians import models as technician_models  # noqa: F401

metadata = db.Base.metadata
