"""Password hashing and opaque tokens (hashing is Werkzeug's, not ours)."""

from __future__ import annotations

import functools
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


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. With no hash (no such user) the password is
    checked against a hash of a random secret, made with the same method as real ones, so a
    wrong username costs what a wrong password costs and timing does not tell which names
    exist; the answer is then always False."""
    if password_hash is None:
        check_password_hash(_nobodys_hash(HASH_METHOD), password)
        return False
    return check_password_hash(password_hash, password)


@functools.cache
def _nobodys_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(32), method=method)


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
