"""The fixed vocabularies of a work order (skills/product categories are a managed table)."""

from __future__ import annotations

CHANNELS = ("hotline", "web", "wechat", "app", "email", "walk_in", "api")
ISSUE_CATEGORIES = ("repair", "installation", "maintenance", "complaint")
PRIORITIES = ("normal", "urgent", "vip")
