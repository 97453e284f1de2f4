"""Encryption at rest for credentials kept in the database (apprise channel URLs).

The key comes from FORGECAST_NOTIFY_SECRET_KEY, or is generated once into
``<data_dir>/notify.key`` (mode 0600). Any passphrase works: it is stretched into a
Fernet key, so operators are not asked to produce base64.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken

from resources.errors import OperationError
from resources.settings import Settings


def _fernet_from_passphrase(passphrase: str) -> Fernet:
    digest = hashlib.sha256(passphrase.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def cipher(settings: Settings) -> Fernet:
    if settings.notify_secret_key is not None:
        return _fernet_from_passphrase(settings.notify_secret_key.get_secret_value())
    key_file = settings.data_dir / "notify.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return _fernet_from_passphrase(key_file.read_text().strip())


def encrypt(settings: Settings, plaintext: str) -> str:
    return cipher(settings).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise OperationError(
            "a stored channel URL cannot be decrypted: FORGECAST_NOTIFY_SECRET_KEY "
            "(or <data_dir>/notify.key) changed since it was stored"
        ) from None


def fingerprint(plaintext: str) -> str:
    """A stable, non-secret identity for a credential (for keys and display)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()[:16]
