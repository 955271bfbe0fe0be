"""Interface languages and how one is chosen for a request."""

from __future__ import annotations

from flask import request, session
from flask_login import current_user

LANGUAGES = ("en", "zh")


def select_locale() -> str:
    """The user's saved choice, then this browser session's choice, then the browser's."""
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or "en"
