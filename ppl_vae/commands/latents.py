"""``ppl-vae latents``: measure one or two runs' latent spaces and draw the first one's, into its directory.

Files (``stem`` = ``latents``, or ``latents-vs-<second run>``): ``<stem>.json`` (the measures of
``ppl_vae.evaluation.latents`` for each run, and the manifold's latent dimensions), ``<stem>_scatter.png``
(the codes by class, the runs side by side) and, for images, ``<stem>_manifold.png``,
``<stem>_traversals.png`` and ``<stem>_interpolations.png`` of the first run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from ppl_vae.commands.common import require_codes, require_positive, trained
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.files import write_json
from ppl_vae.evaluation.latents import codes, measure
from ppl_vae.report.latent_figures import plot_codes, plot_interpolations, plot_manifold, plot_traversals
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def interpolation_ends(z: Tensor, labels: Tensor | None, pairs: int = 3) -> list[tuple[Tensor, Tensor]]:
    """(code, code) pairs to interpolate between: the first examples of classes 0 and 1, 2 and 3, ...
    with labels; else examples 0 and 1, 2 and 3, ..."""
    if labels is None:
        return [(z[2 * i], z[2 * i + 1]) for i in range(pairs)]
    first = {int(c): int((labels == c).nonzero()[0]) for c in labels.unique()}
    classes = sorted(first)
    return [(z[first[classes[2 * i]]], z[first[classes[2 * i + 1]]]) for i in range(min(pairs, len(classes) // 2))]


@dataclass
class LatentViews:
    """What :func:`latents` measured and wrote: measures by run directory, files, notes."""

    measures: dict[str, dict]
    files: list[str]
    notes: list[str]


def latents(
    run: TrainedRun | str | Path,
    other: TrainedRun | str | Path | None = None,
    dims: tuple[int, int] | None = None,
    steps: int = 10,
    seed: int = 0,
    device: str | None = None,
) -> LatentViews:
    """Measure ``run``'s latent space (and ``other``'s beside it) and write the views of ``run`` into its
    directory: the files of the module text. ``dims``: the two latent dimensions of the manifold grid (default
    the first two); ``steps``: points per side of the grid and per traversal."""
    require_positive(steps, "steps")
    runs = [trained(r, device) for r in (run, other) if r is not None]
    for each in runs:
        require_codes(each, "latents")
    with RunLock(runs[0].directory, "latents"):
        return _write(runs, dims, steps, seed)


def _write(runs: list, dims: tuple[int, int] | None, steps: int, seed: int) -> LatentViews:
    first = runs[0]
    data = first.data()
    latent_dim = codes(first.pair, data.test.x[:1]).shape[1]
    chosen = (0, 1) if dims is None else tuple(dims)
    if latent_dim < 2 or max(chosen) >= latent_dim or min(chosen) < 0 or chosen[0] == chosen[1]:
        raise ConfigError(f"--dims {chosen[0]} {chosen[1]}: give two different latent dimensions below {latent_dim}")
    results, panels, notes = {}, [], []
    for run in runs:
        run_data = run.data()
        measures, z = measure(run.pair, run_data, seed)
        results[str(run.directory)] = measures.as_dict()
        labels = run_data.test.y.cpu() if run_data.num_classes is not None else None
        panels.append((f"{run.directory.name}: {run.pair.guide_name}", z, labels))
        if measures.note:
            notes.append(measures.note)
    stem = "latents" if len(runs) == 1 else f"latents-vs-{runs[1].directory.name}"
    folder, image_shape = first.directory, first.view.image_shape
    files = [f"{stem}.json", f"{stem}_scatter.png"]
    plot_codes(panels, folder / f"{stem}_scatter.png")
    if image_shape is None:
        notes.append("vector data has no image shape: no manifold, traversal or interpolation figures")
    else:
        ends = interpolation_ends(panels[0][1], panels[0][2])
        plot_manifold(first.pair, image_shape, latent_dim, chosen, steps, folder / f"{stem}_manifold.png")
        plot_traversals(first.pair, image_shape, latent_dim, steps, folder / f"{stem}_traversals.png")
        plot_interpolations(first.pair, image_shape, ends, steps, folder / f"{stem}_interpolations.png")
        files += [f"{stem}_manifold.png", f"{stem}_traversals.png", f"{stem}_interpolations.png"]
        if latent_dim != 2:
            notes.append(
                f"the manifold grid shows z_{chosen[0] + 1} and z_{chosen[1] + 1} with the other {latent_dim - 2} "
                "latents at 0 (choose others with --dims)"
            )
    write_json(folder / f"{stem}.json", {"runs": results, "manifold_dims": list(chosen)})
    return LatentViews(results, files, notes)
