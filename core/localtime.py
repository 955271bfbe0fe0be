"""The practice's local time zone: shifts, work days, order numbers and the times in notices
follow it. `APP_TIMEZONE` sets it (web/config.py); this is its default, written once."""

from __future__ import annotations

DEFAULT_TIMEZONE = "Asia/Shanghai"
