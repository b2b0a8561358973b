"""Encryption of the Forest user tokens the bot keeps (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class InvalidKey(ValueError):
    """The configured key is malformed, or is not the key a stored token was encrypted with."""


class TokenCipher:
    """Encrypts tokens with one Fernet key (a url-safe base64 string of 32 bytes)."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.strip().encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            # The key itself is a secret: the message never includes it.
            raise InvalidKey(
                "the token encryption key is not a Fernet key (44 characters of url-safe "
                "base64 encoding 32 bytes); generate one with TokenCipher.generate_key()"
            ) from None

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode("utf-8"))

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(blob).decode("utf-8")
        except InvalidToken:
            raise InvalidKey(
                "a stored token cannot be decrypted with the configured key: it was encrypted "
                "with another key (or the data is corrupt); restore the old key, or have the "
                "user link their Forest account again"
            ) from None
