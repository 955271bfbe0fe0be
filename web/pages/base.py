"""The blueprint for server-rendered pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
