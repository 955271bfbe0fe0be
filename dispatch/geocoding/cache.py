"""The geocoder's cache table. Each lookup uses its own short session so that no request
transaction is held open while the geocoder is called."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from core.db import Database, unit_of_work
from dispatch.geocoding import GeoPoint
from dispatch.models import GeocodeCacheEntry


class SqlGeocodeCache:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, key: str) -> GeoPoint | None:
        with self.database.session_scope() as session:
            row = session.get(GeocodeCacheEntry, key)
            if row is None:
                return None
            return GeoPoint(lat=row.lat, lon=row.lon, formatted=row.formatted, provider=row.provider)

    def put(self, key: str, point: GeoPoint) -> None:
        with self.database.session_scope() as session:
            try:
                with unit_of_work(session):
                    session.add(
                        GeocodeCacheEntry(
                            key=key[:300],
                            lat=point.lat,
                            lon=point.lon,
                            formatted=point.formatted[:300],
                            provider=point.provider,
                        )
                    )
            except IntegrityError:  # cached by a concurrent request meanwhile: same answer
                pass
