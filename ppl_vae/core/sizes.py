"""Checks of the sizes a model, guide or network is built with: each one sentence naming the size."""

from __future__ import annotations

from typing import Any

from ppl_vae.core.errors import ConfigError


def check_sizes(**sizes: Any) -> None:
    """Each keyword a positive whole number or a list of them (``channels``: not empty); a ConfigError names
    the first that is not."""
    for name, value in sizes.items():
        if name == "channels" and not value:
            raise ConfigError("channels must list at least one layer, got []")
        for size in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ConfigError(f"{name} must be positive whole numbers, got {value!r}")


def check_latent_dim(latent_dim: Any) -> int:
    """``latent_dim`` if it is a positive whole number; else a ConfigError naming it."""
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ConfigError(f"latent_dim must be a positive whole number, got {latent_dim!r}")
    return latent_dim
