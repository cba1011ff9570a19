"""Calling a registered constructor with the keys of an experiment table, and the arguments the data fixes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ppl_vae.core.config import unknown_key_error
from ppl_vae.core.errors import ConfigError, PluginError, UserError, one_line
from ppl_vae.core.plugins import raised_in_plugin
from ppl_vae.core.registry import Registry


def construct(
    registry: Registry,
    table: dict[str, Any],
    context: dict[str, Any],
    where: str,
    engine_keys: tuple[str, ...] = ("name",),
) -> Any:
    """Call the constructor registered under ``table["name"]`` with the table's other keys.

    ``context`` supplies arguments the data determines (``x_shape``, ``latent_dim``,
    ``num_classes``, ...) to constructors that take them, where the table does not set them.
    ``where`` names the table in error sentences (``"model"``, ``"model.decoder"``). A key the
    constructor does not take, or a value it refuses, is one sentence naming the key.
    """
    name = table["name"]
    constructor: Callable[..., Any] = registry.get(name)
    parameters = inspect.signature(constructor).parameters
    kwargs = {k: v for k, v in table.items() if k not in engine_keys}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    valid = [p for p in parameters if p not in context and parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    for key in kwargs:
        if key not in parameters and not takes_any:
            raise unknown_key_error(key, where, valid, f" for {registry.kind} '{name}'")
    for key, value in context.items():
        if key in parameters and key not in kwargs and value is not None:
            kwargs[key] = value
    try:
        return constructor(**kwargs)
    except UserError:
        raise
    except Exception as error:
        sentence = f"cannot build {registry.kind} '{name}' from [{where}]: {type(error).__name__}: {one_line(error)}"
        plugin = raised_in_plugin(error)
        if plugin is not None:
            raise PluginError(f"{sentence} (in plugin {plugin}; its traceback follows)") from error
        if isinstance(error, (TypeError, ValueError)):
            raise ConfigError(sentence) from error
        raise


TOML_VALUES = (str, int, float, bool, list, dict)


def with_defaults(registry: Registry, table: dict[str, Any], context: tuple[str, ...] = ()) -> dict[str, Any]:
    """``table`` with the defaults of its constructor's other arguments filled in, where TOML can write them
    (None cannot be written: such arguments stay absent, and mean their default); ``context``: arguments the
    data gives, never written. What a run records as its resolved experiment."""
    parameters = inspect.signature(registry.get(table["name"])).parameters
    filled = dict(table)
    for key, parameter in parameters.items():
        default = parameter.default
        if key in filled or key in context or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        if default is not inspect.Parameter.empty and isinstance(default, TOML_VALUES):
            filled[key] = list(default) if isinstance(default, tuple) else default
    return filled


def as_table(spec: str | dict[str, Any], where: str) -> dict[str, Any]:
    """A spec given as a name (``"conv"``) or a table with a ``name`` key, as a table."""
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return spec
    raise ConfigError(f"[{where}] must be a registered name or a table with a name, got {spec!r}")
