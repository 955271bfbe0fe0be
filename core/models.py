"""Imports every table so that `metadata` is complete (for Alembic and test set-up)."""

from core import accounts, audit, db, leases  # noqa: F401
from dispatch import models as dispatch_models  # noqa: F401
from technicians import models as technician_models  # noqa: F401

metadata = db.Base.metadata
