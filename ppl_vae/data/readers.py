"""Where data files are, fetching missing ones, and reading the IDX and .amat formats.

Files are looked for in ``<data_dir>/<dataset name>/``. The data directory is, in order:
the ``data_dir`` option of the experiment, the ``PPL_VAE_DATA`` environment variable,
``~/.cache/ppl_vae/data``.
"""

from __future__ import annotations

import gzip
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ppl_vae.core.errors import DataError, DataNotFoundError

DATA_ENV = "PPL_VAE_DATA"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data directory: the argument, else ``$PPL_VAE_DATA``, else ``~/.cache/ppl_vae/data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "ppl_vae" / "data"


def present(folder: Path, names: list[str]) -> dict[str, Path]:
    """The files of ``names`` found in ``folder``, each as given or with ``.gz``."""
    found: dict[str, Path] = {}
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def find_or_download(folder: Path, names: list[str], url: str | None, download: bool) -> list[Path]:
    """Paths of ``names`` in ``folder``, each as given or with ``.gz``; download missing ones.

    Raises :class:`DataNotFoundError` naming every missing file and the folder to put it in
    when a file is absent and cannot be downloaded.
    """
    found = present(folder, names)
    missing = [n for n in names if n not in found]
    errors: list[str] = []
    if missing and download and url:
        for name in list(missing):
            target = folder / name
            partial = target.with_suffix(target.suffix + ".part")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with urllib.request.urlopen(url + name, timeout=30) as response, open(partial, "wb") as out:
                    out.write(response.read())
                os.replace(partial, target)
                found[name] = target
                missing.remove(name)
            except OSError as error:
                partial.unlink(missing_ok=True)
                errors.append(f"{name}: {error}")
    if missing:
        reason = f" (download failed: {errors[0]})" if errors else " (download is off)" if url else ""
        raise DataNotFoundError(
            f"missing data files {', '.join(missing)} (plain or .gz) in {folder}{reason}; put them "
            f"there, or point data_dir / ${DATA_ENV} at a directory that has {folder.name}/"
        )
    return [found[n] for n in names]


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, plain or .gz) as a uint8 array of its stored shape."""
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(bytearray(raw), dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: {data.size} values for shape {shape}")
    return data.reshape(shape)


def read_amat(path: Path) -> np.ndarray:
    """A ``.amat`` text file (one example per line, space-separated 0/1), plain or .gz, as uint8 (N, D)."""
    return np.loadtxt(path, dtype=np.uint8, ndmin=2)
