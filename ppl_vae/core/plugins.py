"""User plugins: Python files or modules named in ``[experiment] plugins`` that register names.

A plugin file is imported once per process, whatever name it was first imported under: a user
who imported ``my_models.py`` as ``my_models`` to build pieces in Python, and then loads a run
that names the same file, gets the module already loaded, not a second copy that would register
its names again. A plugin executes arbitrary code: only load experiment files you trust. An
exception raised while a plugin loads becomes a :class:`~ppl_vae.core.errors.PluginError` naming
the plugin, with the user's own traceback kept as its cause; :func:`raised_in_plugin` tells any
later error raised inside plugin code from the package's own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path

from ppl_vae.core.errors import ConfigError, PluginError, UserError, one_line

_LOADED: dict[str, str] = {}  # module name -> resolved path of every plugin file loaded


def _files_of(modules: Iterable) -> set[str]:
    return {str(Path(module.__file__).resolve()) for module in modules if getattr(module, "__file__", None)}


def raised_in_plugin(error: BaseException) -> str | None:
    """The plugin file in whose code ``error`` was raised, if any (to keep the user's own traceback)."""
    files = set(_LOADED.values())
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if str(Path(frame.filename).resolve()) in files:
            return frame.filename
    return None


def _loaded_module(path: Path):
    """The module already imported from the file ``path``, under any name, or None."""
    resolved = str(path.resolve())
    for module in list(sys.modules.values()):
        if resolved in _files_of([module]):
            return module
    return None


def load_plugins(plugins: Iterable[str]) -> None:
    """Import each plugin: a ``.py`` file (as module ``ppl_vae_plugin_<stem>``, unless the file is already
    imported under any name) or an importable module name. Idempotent."""
    for plugin in plugins:
        if plugin.endswith(".py"):
            path = Path(plugin)
            if not path.is_file():
                raise ConfigError(f"plugin file {plugin} does not exist")
            module = _loaded_module(path)
            if module is not None:
                _LOADED.setdefault(module.__name__, str(path.resolve()))
                continue
            name = f"ppl_vae_plugin_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            _LOADED[name] = str(path.resolve())
            try:
                spec.loader.exec_module(module)
            except UserError:
                del sys.modules[name]
                raise
            except Exception as error:
                del sys.modules[name]
                raise PluginError(
                    f"plugin {plugin} raised {type(error).__name__} while loading: {one_line(error)}"
                ) from error
        else:
            try:
                importlib.import_module(plugin)
            except ImportError as error:
                raise ConfigError(f"cannot import plugin module '{plugin}': {error}") from error
