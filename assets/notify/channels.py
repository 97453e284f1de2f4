"""Channel secrets: an apprise URL is a credential, kept encrypted in the database or
named by an environment variable, and resolved only at send time. Plain Python on top of
the store: no Dagster."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from assets.notify import store
from assets.notify.routing import channel_fingerprint
from resources.errors import ServiceError
from resources.secrets import decrypt
from resources.settings import Settings


@dataclass(frozen=True)
class Channel:
    """A preference's resolved channel. ``url`` is a secret: never logged or stored."""

    url: str | None = field(repr=False)
    error: str | None = None  # why there is no URL (safe to store)
    permanent: bool = False  # retrying cannot help (key changed): dead at once


def resolve_channel(settings: Settings, encrypted: str | None, env_name: str | None) -> Channel:
    if encrypted:
        try:
            return Channel(decrypt(settings, encrypted))
        except ServiceError as exc:
            return Channel(None, exc.message, permanent=True)
    value = os.environ.get(env_name or "")
    if not value:
        return Channel(None, f"channel environment variable {env_name} is not set")
    return Channel(value)


def env_fingerprint(env_name: str) -> str:
    """A channel named by an environment variable is identified by the name, not the URL."""
    return channel_fingerprint(f"env:{env_name}")


def load_channels(conn: psycopg.Connection, settings: Settings,
                  preference_ids: Iterable[int]) -> dict[int, Channel]:
    return {pid: resolve_channel(settings, encrypted, env)
            for pid, (encrypted, env) in store.channel_secrets(conn, preference_ids).items()}


def operator_urls(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """The URLs of every enabled channel of an operator (those that resolve)."""
    channels = (resolve_channel(settings, encrypted, env)
                for encrypted, env in store.operator_channel_secrets(conn))
    return [c.url for c in channels if c.url]
