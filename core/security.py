"""Password hashing and opaque tokens (hashing is Werkzeug's, not ours)."""

from __future__ import annotations

import hashlib
import os
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 10
# Werkzeug's default (scrypt) unless overridden; the test suite sets a cheap method so that
# hundreds of test accounts do not cost minutes. Stored hashes name their method, so
# verification works whatever the current setting is.
HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def password_problems(password: str) -> list[str]:
    """Reasons `password` is unacceptable (empty when it is fine)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.isdigit() or password.isalpha():
        problems.append("must mix letters with digits or symbols")
    return problems


def new_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """Tokens are stored only as their SHA-256, so a database leak does not leak sessions."""
    return hashlib.sha256(token.encode()).hexdigest()
