"""The process's keyring: built from the settings on first use, replaceable (app, tests)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaxport.core.crypto.keyring import Keyring
    from vaxport.settings import Settings

_lock = threading.Lock()
_keyring: Keyring | None = None


def keyring_from_settings(settings: Settings) -> Keyring:
    """A keyring over the provider ``VAXPORT_KEY_PROVIDER`` names."""
    from vaxport.core.crypto.keyring import Keyring
    from vaxport.core.crypto.providers import provider_from_settings

    return Keyring(
        provider_from_settings(settings),
        cache_seconds=settings.key_cache_seconds,
        max_entries=settings.key_cache_max_entries,
    )


def configure_keyring(settings: Settings) -> Keyring:
    """Install the keyring for ``settings`` as the process's keyring."""
    keyring = keyring_from_settings(settings)
    set_keyring(keyring)
    return keyring


def set_keyring(keyring: Keyring | None) -> None:
    """Install ``keyring`` (``None``: rebuild from the process settings on next use)."""
    global _keyring  # noqa: PLW0603 - the one process-wide keyring
    with _lock:
        _keyring = keyring


def get_keyring() -> Keyring:
    """The process's keyring."""
    global _keyring  # noqa: PLW0603 - the one process-wide keyring
    with _lock:
        if _keyring is None:
            from vaxport.settings import get_settings

            _keyring = keyring_from_settings(get_settings())
        return _keyring
