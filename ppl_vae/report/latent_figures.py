"""Figures of a latent space: codes by class, the manifold grid, traversals, interpolations.

Decoded images are the mean of p(x | z) at the given z (``ppl_vae.evaluation.latents.decoded``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.evaluation.latents import decoded, prior_quantiles, slerp
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.predictive import shown
from ppl_vae.report.plots import new_figure, plot_image_rows, save_figure


def decode_means(pair: Pair, z: Tensor) -> Tensor:
    """Means of p(x | z) for latents ``z`` (n, latent_dim): (n, *x_shape) on the CPU."""
    with frozen(0, pair.device):
        return shown(decoded(pair, z)).cpu()


def planar(z: np.ndarray) -> tuple[np.ndarray, tuple[str, str], str]:
    """Codes as 2-D points: themselves for 2 latents, else their first two principal directions."""
    if z.shape[1] == 2:
        return z, ("z_1", "z_2"), ""
    from sklearn.decomposition import PCA

    points = PCA(2).fit_transform(z)
    return (
        points,
        ("principal direction 1 of the codes", "principal direction 2"),
        f" ({z.shape[1]} latents, projected)",
    )


def plot_codes(panels: list[tuple[str, Tensor, Tensor | None]], path: Path) -> None:
    """Scatter of each panel's codes (title, codes (N, L), labels (N,) or None), side by side, coloured by class;
    with 2 latents the prior's 1- and 2-sigma circles are drawn."""
    fig, axes = new_figure(1, len(panels), (5.2 * len(panels), 4.8))
    for ax, (title, z, labels) in zip(axes[0], panels):
        points, (xlabel, ylabel), suffix = planar(z.double().numpy())
        colours = None if labels is None else labels.cpu().numpy()
        shown = ax.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab10", s=6, alpha=0.7)
        if z.shape[1] == 2:
            angle = np.linspace(0, 2 * np.pi, 200)
            for radius in (1, 2):
                ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="grey", linewidth=0.8, linestyle="--")
        if labels is not None:
            ax.legend(*shown.legend_elements(), title="class", fontsize=7, loc="best")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title + suffix, fontsize=10)
    save_figure(fig, path)


def plot_manifold(
    pair: Pair, image_shape: tuple[int, ...], latent_dim: int, dims: tuple[int, int], steps: int, path: Path
) -> None:
    """Decoded means on a grid of ``steps`` x ``steps`` points through the prior's quantiles (5% to 95%) of
    latent dimensions ``dims``, the others at 0 (Kingma & Welling 2014, figure 4)."""
    grid = prior_quantiles(steps)
    z = torch.zeros(steps * steps, latent_dim, dtype=torch.float64)
    z[:, dims[0]] = grid.repeat_interleave(steps)
    z[:, dims[1]] = grid.repeat(steps)
    means = decode_means(pair, z).reshape(steps, steps, *image_shape)
    rest = "" if latent_dim == 2 else f"; the other {latent_dim - 2} latents at 0"
    rows = [(f"z_{dims[0] + 1} at its {5 + 90 * i / (steps - 1):.0f}% quantile", means[i]) for i in range(steps)]
    rows[0] = (f"manifold: rows z_{dims[0] + 1}, columns z_{dims[1] + 1}, prior quantiles 5% to 95%{rest}", means[0])
    plot_image_rows(rows, steps, path)


def plot_traversals(pair: Pair, image_shape: tuple[int, ...], latent_dim: int, steps: int, path: Path) -> None:
    """One row per latent dimension (at most 10): that dimension through the prior's 5%..95% quantiles,
    the others at 0."""
    shown = min(latent_dim, 10)
    grid = prior_quantiles(steps)
    z = torch.zeros(shown, steps, latent_dim, dtype=torch.float64)
    for j in range(shown):
        z[j, :, j] = grid
    means = decode_means(pair, z.reshape(-1, latent_dim)).reshape(shown, steps, *image_shape)
    rows = [(f"z_{j + 1} from its 5% to its 95% quantile, the others at 0", means[j]) for j in range(shown)]
    plot_image_rows(rows, steps, path)


def plot_interpolations(
    pair: Pair, image_shape: tuple[int, ...], ends: list[tuple[Tensor, Tensor]], steps: int, path: Path
) -> None:
    """For each pair of codes (a, b): a row of linear and a row of spherical interpolation from a to b."""
    rows = []
    for i, (a, b) in enumerate(ends):
        a, b = a.double(), b.double()
        linear = torch.stack([a + t * (b - a) for t in torch.linspace(0, 1, steps, dtype=torch.float64)])
        for kind, path_z in (("linear", linear), ("spherical", slerp(a, b, steps))):
            rows.append((f"pair {i + 1}, {kind}", decode_means(pair, path_z).reshape(steps, *image_shape)))
    plot_image_rows(rows, steps, path)


def plot_codes_over_prior(
    codes: Tensor, labels: Tensor | None, log_density: Callable[[np.ndarray], np.ndarray], title: str, path: Path
) -> None:
    """2-D codes (N, 2), coloured by class when ``labels`` (N,) are given, over the contours of the prior's
    density (``log_density`` of (G, 2) points, nats): the figure of Makhzani et al. (2016)."""
    points = codes.double().numpy()
    low, high = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    margin = 0.15 * (high - low) + 0.5
    u, v = np.meshgrid(*(np.linspace(low[i] - margin[i], high[i] + margin[i], 80) for i in range(2)))
    density = np.exp(log_density(np.stack([u.ravel(), v.ravel()], axis=1))).reshape(u.shape)
    fig, axes = new_figure(1, 1, (6, 5.4))
    ax = axes[0][0]
    ax.contour(u, v, density, levels=8, colors="grey", linewidths=0.7)
    colours = None if labels is None else labels.cpu().numpy()
    shown = ax.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab10", s=5, alpha=0.7)
    if labels is not None:
        ax.legend(*shown.legend_elements(), title="class", fontsize=7, loc="best")
    ax.set_xlabel("z_1")
    ax.set_ylabel("z_2")
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)
