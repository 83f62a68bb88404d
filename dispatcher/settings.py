"""Settings from the environment, read in exactly one place.

Entry points (the CLI, ``python -m worker``, the executors) call :meth:`Settings.from_env`
once and pass plain values down; library code never reads ``os.environ`` itself, so a
test can build a :class:`Settings` by hand and nothing depends on the caller's shell.

=============================== ============================================== ===========
variable                        meaning                                        default
=============================== ============================================== ===========
``SHARDYARD_REDIS_URL``         Redis of the run state and the Celery broker    (none)
``SHARDYARD_QUEUE``             Celery queue shards are sent to                 ``shardyard``
``SHARDYARD_PLUGINS``           comma-separated modules registering blocks      (none)
``SHARDYARD_INSECURE``          ``1`` allows a passwordless non-loopback Redis  ``0``
``SHARDYARD_VISIBILITY_TIMEOUT`` seconds before an unacked message is redelivered ``3600``
``SHARDYARD_LEASE_SECONDS``     lease a worker holds on a shard between beats   ``60``
``SHARDYARD_LOG_FORMAT``        ``json`` or ``console`` (default: by TTY)       (auto)
=============================== ============================================== ===========
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from blocks.errors import ShardyardError

DEFAULT_QUEUE = "shardyard"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ShardyardError):
    """An environment variable has a value shardyard cannot use."""

    exit_code = 2


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be 0 or 1 (got {raw!r})")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds (got {raw!r})") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive (got {raw!r})")
    return value


def split_modules(raw: str | None) -> tuple[str, ...]:
    """``"a.b, c"`` -> ``("a.b", "c")``: the form of ``--plugins`` and ``SHARDYARD_PLUGINS``."""
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Every knob shardyard takes from the environment."""

    redis_url: str | None = None
    queue: str = DEFAULT_QUEUE
    plugins: tuple[str, ...] = field(default_factory=tuple)
    insecure: bool = False
    visibility_timeout: float = 3600.0
    lease_seconds: float = 60.0
    log_format: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the ``SHARDYARD_*`` variables (``env`` defaults to ``os.environ``)."""
        source: Mapping[str, str] = os.environ if env is None else env
        log_format = (source.get("SHARDYARD_LOG_FORMAT") or "").strip().lower() or None
        if log_format not in (None, "json", "console"):
            raise ConfigError(f"SHARDYARD_LOG_FORMAT must be json or console (got {log_format!r})")
        return cls(
            redis_url=(source.get("SHARDYARD_REDIS_URL") or "").strip() or None,
            queue=(source.get("SHARDYARD_QUEUE") or "").strip() or DEFAULT_QUEUE,
            plugins=split_modules(source.get("SHARDYARD_PLUGINS")),
            insecure=_flag(source, "SHARDYARD_INSECURE", False),
            visibility_timeout=_number(source, "SHARDYARD_VISIBILITY_TIMEOUT", 3600.0),
            lease_seconds=_number(source, "SHARDYARD_LEASE_SECONDS", 60.0),
            log_format=log_format,
        )
