"""Secrets and Mosquitto's password-file hashes (``$7$``: PBKDF2-HMAC-SHA512, as
``mosquitto_passwd`` of Mosquitto 2.0 writes them)."""

import base64
import hashlib
import secrets

PBKDF2_ITERATIONS = 101
"""Mosquitto 2.0's own default. The passwords are 256-bit random tokens, never chosen by a
person, so the work factor adds nothing against guessing and every CONNECT pays for it."""
SALT_BYTES = 12


def new_password() -> str:
    """Return a fresh random password (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """Return the password-file hash of ``password`` (the part after ``username:``)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def render_password_file(hashes: dict[str, str]) -> str:
    """Return the text of a Mosquitto ``password_file``: ``username:hash`` lines."""
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))
