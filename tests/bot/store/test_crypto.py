"""TokenCipher: Fernet round trips, and clear errors for a bad or different key."""

from __future__ import annotations

import pytest

from bot.store import InvalidKey, TokenCipher


def test_round_trip_hides_the_token() -> None:
    cipher = TokenCipher(TokenCipher.generate_key())
    blob = cipher.encrypt("forest-pat-s3cret")
    assert b"s3cret" not in blob
    assert cipher.decrypt(blob) == "forest-pat-s3cret"
    assert cipher.encrypt("forest-pat-s3cret") != blob  # random IV: equal tokens differ


def test_generated_keys_differ_and_are_accepted() -> None:
    first, second = TokenCipher.generate_key(), TokenCipher.generate_key()
    assert first != second
    TokenCipher(first)
    TokenCipher(f"  {second}\n")  # read from a file or an env var with a newline


@pytest.mark.parametrize("key", ["", "not-a-key", "x" * 44, "é" * 44])
def test_malformed_key_is_invalid_key_without_echoing_it(key: str) -> None:
    with pytest.raises(InvalidKey, match="not a Fernet key") as raised:
        TokenCipher(key)
    assert isinstance(raised.value, ValueError)
    if key:
        assert key not in str(raised.value)


def test_another_key_cannot_decrypt() -> None:
    blob = TokenCipher(TokenCipher.generate_key()).encrypt("forest-pat-s3cret")
    with pytest.raises(InvalidKey, match="encrypted with another key"):
        TokenCipher(TokenCipher.generate_key()).decrypt(blob)
