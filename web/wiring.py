"""Builds the domain's collaborators from the app's configuration (once per app)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from flask import current_app, url_for

from dispatch.complaints import ComplaintPolicy
from dispatch.geocoding import from_config
from dispatch.geocoding.cache import SqlGeocodeCache
from dispatch.intake import IntakeSettings
from dispatch.jobs import GuardedJobs
from dispatch.notify import NotifySettings
from dispatch.photos import HashIndex, LocalStore, PhotoSettings, S3Store
from dispatch.planning import PlanningSettings
from dispatch.sla.policy import SlaPolicy
from simulation import forecast
from web.extensions import db


def guarded_jobs(config: Any, interval_s: float) -> GuardedJobs:
    """The scheduler's jobs as the configuration sets them (the scheduler process and the
    single-process default's background thread build them alike)."""
    planning = PlanningSettings.from_config(config)
    settings = forecast.ForecastSettings.from_config(config)
    return GuardedJobs(
        db,
        interval_s,
        notify=NotifySettings.from_config(config),
        planning=planning,
        auto_dispatch_every_s=60 * config["AUTO_DISPATCH_MINUTES"],
        retention_months=config["RETENTION_MONTHS"],
        photo_store=photo_store(config),
        forecast=partial(forecast.refresh, db, planning, settings) if settings.every_minutes > 0 else None,
        forecast_every_s=60 * settings.every_minutes,
    )


def sla_policy() -> SlaPolicy:
    """The configured SLA defaults (where no admin rule sets a clock)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    policy = app.extensions.get("sla_policy")
    if policy is None:
        policy = app.extensions["sla_policy"] = SlaPolicy.from_config(app.config)
    return policy


def intake_settings() -> IntakeSettings:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions.get("intake_settings")
    if settings is None:
        settings = IntakeSettings(
            policy=sla_policy(),
            timezone=app.config["TIMEZONE"],
            geocoder=from_config(app.config, cache=SqlGeocodeCache(db)),
            city=app.config.get("DEFAULT_CITY"),
            planning=planning_settings() if app.config["AUTO_ASSIGN_ON_INTAKE"] else None,
            proof_photos_default=app.config["PROOF_PHOTOS_REQUIRED"],
            proof_photos=app.config["PROOF_PHOTOS_BY_CATEGORY"],
            complaints=ComplaintPolicy.from_config(app.config),
            notify=notify_settings(),
            link_for=tracking_url,
        )
        app.extensions["intake_settings"] = settings
    return settings


def notify_settings() -> NotifySettings:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions.get("notify_settings")
    if settings is None:
        settings = app.extensions["notify_settings"] = NotifySettings.from_config(app.config)
    return settings


def tracking_url(token: str) -> str:
    """The customer's link in full (a request's host: it is sent from within a request)."""
    return url_for("pages.track", token=token, _external=True)


def planning_settings() -> PlanningSettings:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions.get("planning_settings")
    if settings is None:
        settings = app.extensions["planning_settings"] = PlanningSettings.from_config(app.config)
    return settings


def complaint_policy() -> ComplaintPolicy:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    policy = app.extensions.get("complaint_policy")
    if policy is None:
        policy = app.extensions["complaint_policy"] = ComplaintPolicy.from_config(app.config)
    return policy


def photo_store(config) -> LocalStore | S3Store:
    """PHOTO_STORAGE_URL=s3://bucket/prefix selects an S3-compatible store; else the directory."""
    url = config.get("PHOTO_STORAGE_URL") or ""
    if url:
        return S3Store.from_url(
            url,
            endpoint_url=config.get("S3_ENDPOINT_URL"),
            region_name=config.get("S3_REGION"),
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID"),
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
        )
    return LocalStore(Path(config["PHOTO_STORAGE_DIR"]))


def photo_settings() -> PhotoSettings:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions.get("photo_settings")
    if settings is None:
        settings = app.extensions["photo_settings"] = PhotoSettings(
            store=photo_store(app.config),
            timezone=app.config["TIMEZONE"],
            index=HashIndex(),
        )
    return settings
