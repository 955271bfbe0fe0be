"""Configuration from the environment; nothing secret lives in the code."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from core.localtime import DEFAULT_TIMEZONE
from dispatch.complaints import ComplaintPolicy
from dispatch.notify import NotifySettings
from dispatch.planning import PlanningSettings
from dispatch.sla import policy as sla


def _json_env(name: str, default: Any) -> Any:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{name} must be JSON: {exc}") from None


def _secret_key(instance_path: Path, production: bool) -> str:
    """SECRET_KEY from the environment; in development a random key kept in instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise RuntimeError("SECRET_KEY must be set in production (APP_ENV=production)")
    path = instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment(instance_path: Path) -> dict[str, Any]:
    production = os.environ.get("APP_ENV", "development") == "production"
    instance_path.mkdir(parents=True, exist_ok=True)
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "APP_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance_path, production),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'dispatch.db'}",
        "REDIS_URL": redis_url,
        "APP_TIMEZONE": os.environ.get("APP_TIMEZONE", DEFAULT_TIMEZONE),
        "DEFAULT_CITY": os.environ.get("DEFAULT_CITY", "西安市"),
        "GEOCODER_PROVIDER": os.environ.get("GEOCODER_PROVIDER", "none"),
        "GEOCODER_URL": os.environ.get("GEOCODER_URL"),
        "GEOCODER_API_KEY": os.environ.get("GEOCODER_API_KEY"),
        "GEOCODER_TIMEOUT": float(os.environ.get("GEOCODER_TIMEOUT", "5")),
        "SLA_COMPLETION_HOURS": float(os.environ.get("SLA_COMPLETION_HOURS", sla.COMPLETION_HOURS)),
        "SLA_PRIORITY_HOURS": _json_env("SLA_PRIORITY_HOURS", {}),
        "SLA_CATEGORY_HOURS": _json_env("SLA_CATEGORY_HOURS", {}),
        # The single-process default (`make run`) sweeps in-process; production runs
        # `flask --app wsgi scheduler` as its own process and leaves this off.
        # The board's map: no tile URL means markers on a blank map (nothing is fetched).
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        # The tiles' datum: wgs84 (OpenStreetMap, Tianditu), gcj02 (AMap, Tencent), bd09 (Baidu).
        # Markers and lines are converted for display, a pick on the map back to WGS-84.
        "MAP_TILE_CRS": os.environ.get("MAP_TILE_CRS", "wgs84").strip().lower(),
        # Leaflet's {s} in MAP_TILE_URL: one character per subdomain ("1234" for AMap, "01234567" for Tianditu).
        "MAP_TILE_SUBDOMAINS": os.environ.get("MAP_TILE_SUBDOMAINS", "abc"),
        "BOARD_RISK_HOURS": float(os.environ.get("BOARD_RISK_HOURS", "4")),
        "BOARD_FEED_LIMIT": int(os.environ.get("BOARD_FEED_LIMIT", "500")),
        "SCHEDULER_IN_PROCESS": os.environ.get("SCHEDULER_IN_PROCESS", "0") == "1",
        "AUTO_DISPATCH_MINUTES": float(os.environ.get("AUTO_DISPATCH_MINUTES", "15")),
        "SCHEDULER_INTERVAL_S": float(os.environ.get("SCHEDULER_INTERVAL_S", "30")),
        # Today's miss forecast (simulation/forecast.py): refreshed by the scheduler this often,
        # over this many seeds; 0 minutes turns it off.
        "FORECAST_EVERY_MINUTES": float(os.environ.get("FORECAST_EVERY_MINUTES", "5")),
        "FORECAST_SEEDS": int(os.environ.get("FORECAST_SEEDS", "50")),
        "SLA_ESCALATE_AFTER_HOURS": float(
            os.environ.get("SLA_ESCALATE_AFTER_HOURS", NotifySettings.escalate_after.total_seconds() / 3600)
        ),
        "NOTIFY_SMS_URL": os.environ.get("NOTIFY_SMS_URL"),
        "NOTIFY_WECHAT_URL": os.environ.get("NOTIFY_WECHAT_URL"),
        "NOTIFY_WEBHOOK_URL": os.environ.get("NOTIFY_WEBHOOK_URL"),
        "NOTIFY_SMTP_HOST": os.environ.get("NOTIFY_SMTP_HOST"),
        "NOTIFY_SMTP_PORT": int(os.environ.get("NOTIFY_SMTP_PORT", NotifySettings.smtp_port)),
        "NOTIFY_MAIL_FROM": os.environ.get("NOTIFY_MAIL_FROM", NotifySettings.mail_from),
        "SLA_CONTACT_MINUTES": int(os.environ.get("SLA_CONTACT_MINUTES", sla.CONTACT_MINUTES)),
        "SLA_CALLBACK_DAYS": float(os.environ.get("SLA_CALLBACK_DAYS", sla.CALLBACK_DAYS)),
        "SLA_WARN_RATIO": float(os.environ.get("SLA_WARN_RATIO", sla.WARN_RATIO)),
        # Waiting for a part pauses the completion clock (1) or not (0, the default).
        "SLA_PARTS_PAUSE_CLOCK": os.environ.get("SLA_PARTS_PAUSE_CLOCK", "0") == "1",
        # Complaint clocks in minutes (contact, plan, agreement, closure; the practice's
        # 20 min / 24 h / 5 days / 30 days when unset) and the small-claim limit in CNY at
        # or under which a dispatcher approves a compensation at once.
        "COMPLAINT_CLOCK_MINUTES": _json_env("COMPLAINT_CLOCK_MINUTES", {}),
        "COMPENSATION_SMALL_CLAIM_LIMIT": os.environ.get(
            "COMPENSATION_SMALL_CLAIM_LIMIT", str(ComplaintPolicy.small_claim_limit)
        ),
        # Completion checklists per issue category for the technician's app ({} → the defaults).
        "TECH_CHECKLISTS": _json_env("TECH_CHECKLISTS", {}),
        # How often a phone reports its position while driving to a customer (live ETA).
        "TECH_POSITION_EVERY_S": float(os.environ.get("TECH_POSITION_EVERY_S", "60")),
        "PROOF_PHOTOS_REQUIRED": int(os.environ.get("PROOF_PHOTOS_REQUIRED", "1")),
        "PROOF_PHOTOS_BY_CATEGORY": _json_env("PROOF_PHOTOS_BY_CATEGORY", {}),
        "PHOTO_STORAGE_DIR": os.environ.get("PHOTO_STORAGE_DIR") or str(instance_path / "photos"),
        # s3://bucket/prefix keeps photos in an S3-compatible store instead of PHOTO_STORAGE_DIR;
        # without keys boto3 looks for its usual AWS_* variables and files.
        "PHOTO_STORAGE_URL": os.environ.get("PHOTO_STORAGE_URL", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_REGION": os.environ.get("S3_REGION", ""),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "AUTO_ASSIGN_ON_INTAKE": os.environ.get("AUTO_ASSIGN_ON_INTAKE", "1") == "1",
        "SERVICE_MINUTES": _json_env("SERVICE_MINUTES", {}),
        "REOPTIMIZE_TIME_LIMIT_S": float(os.environ.get("REOPTIMIZE_TIME_LIMIT_S", PlanningSettings.time_limit_s)),
        # A re-plan's search ends after this many steps (and half of its steps) with nothing better; 0: at its limit.
        "REOPTIMIZE_STALL_STEPS": int(os.environ.get("REOPTIMIZE_STALL_STEPS", PlanningSettings.stall_steps)),
        # Days planned ahead, today included; the length of an appointment slot offered to customers.
        "PLANNING_HORIZON_DAYS": int(os.environ.get("PLANNING_HORIZON_DAYS", PlanningSettings.horizon_days)),
        "SLOT_MINUTES": int(os.environ.get("SLOT_MINUTES", PlanningSettings.slot_minutes)),
        "HORIZON_REPLAN_AT": os.environ.get("HORIZON_REPLAN_AT", "06:00"),  # local time, each morning
        # Minutes before an order is due that the planner aims to be done by (dispatch/planning/day.py).
        "PLANNING_DUE_MARGIN_MINUTES": int(
            os.environ.get("PLANNING_DUE_MARGIN_MINUTES", PlanningSettings.due_margin_minutes)
        ),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        # Redis down must not take logins down with it: count in memory meanwhile.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "PUBLIC_INTAKE_LIMIT": os.environ.get("PUBLIC_INTAKE_LIMIT", "5 per minute;50 per day"),
        "LOGIN_LIMIT": os.environ.get("LOGIN_LIMIT", "5 per minute"),
        "PROXY_FIX_X_FOR": int(os.environ.get("PROXY_FIX_X_FOR", "0")),
        "FORCE_HTTPS": os.environ.get("FORCE_HTTPS", "0") == "1",
        # Customers whose orders all ended this many months ago are anonymized (0: never).
        "RETENTION_MONTHS": int(os.environ.get("RETENTION_MONTHS", "36")),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "COMPRESS_MIMETYPES": ["application/json", "text/css", "text/javascript", "application/javascript"],
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        # Not streamed responses (static files: nginx compresses and caches those).
        "COMPRESS_STREAMS": False,
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "threading"),
        # Operations (web/observability.py): JSON log lines (production) or plain text (a
        # developer's terminal); /metrics is served to loopback, and elsewhere only with
        # `Authorization: Bearer <METRICS_TOKEN>`.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json" if production else "text"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
    }
