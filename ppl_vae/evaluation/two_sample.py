r"""The kernel two-sample test: are two sets of points drawn from the same distribution?

The statistic is the unbiased squared maximum mean discrepancy (Gretton et al. 2012, eq. 3)

.. math:: \mathrm{MMD}^2_u = \frac{\sum_{i \ne j} k(a_i, a_j)}{n(n-1)} + \frac{\sum_{i \ne j} k(b_i, b_j)}{m(m-1)}
          - \frac{2}{nm} \sum_{i,j} k(a_i, b_j)

with the Gaussian kernel k(u, v) = exp(-|u - v|^2 / (2 s^2)), s the median distance between the
pooled points (the median heuristic). It is near 0 (and may be slightly negative) when both
come from one distribution. The p-value is that of a permutation test: the share of random
relabellings of the pooled points whose statistic reaches the observed one, (1 + count) /
(1 + permutations), so it is never 0.

Written here rather than taken from ``scipy.stats.permutation_test`` because the kernel matrix
is computed once and every permutation is a quadratic form in it, O(P N^2) in all, where the
generic routine would recompute the kernel for every permutation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TwoSampleTest:
    """``statistic``: MMD^2_u (unitless, kernel values); ``p_value`` of the permutation test;
    ``bandwidth`` s of the kernel, in the points' units; the sizes and the permutation count."""

    statistic: float
    p_value: float
    bandwidth: float
    n_first: int
    n_second: int
    permutations: int

    def as_dict(self) -> dict:
        return asdict(self)


def _statistics(kernel: Tensor, first: Tensor) -> Tensor:
    """MMD^2_u for each row of ``first`` (P, N), an indicator of the points in the first set."""
    second = 1 - first
    n, m = first.sum(1), second.sum(1)
    first_kernel = first @ kernel
    within_first = (first_kernel * first).sum(1) - n  # the diagonal holds k(u, u) = 1
    between = (first_kernel * second).sum(1)
    within_second = kernel.sum() - 2 * between - within_first - n - m
    return within_first / (n * (n - 1)) + within_second / (m * (m - 1)) - 2 * between / (n * m)


def mmd_test(a: Tensor, b: Tensor, permutations: int = 200, seed: int = 0) -> TwoSampleTest:
    """The test of the module text for points ``a`` (n, D) and ``b`` (m, D), n, m >= 2, in float64 on their device."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"the two sets must be (n, D) and (m, D) points, got {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 points, got {len(a)} and {len(b)}")
    pooled = torch.cat([a, b]).double()
    distances = torch.cdist(pooled, pooled).square()
    off_diagonal = distances[~torch.eye(len(pooled), dtype=torch.bool, device=pooled.device)]
    bandwidth = off_diagonal.sqrt().median().clamp_min(1e-12)
    kernel = torch.exp(-distances / (2 * bandwidth**2))
    observed = torch.zeros(1, len(pooled), dtype=kernel.dtype, device=kernel.device)
    observed[0, : len(a)] = 1
    statistic = _statistics(kernel, observed)[0]
    generator = torch.Generator().manual_seed(seed)
    reached = 0
    if permutations:
        order = torch.stack([torch.randperm(len(pooled), generator=generator) for _ in range(permutations)])
        reached = int((_statistics(kernel, observed[0][order.to(kernel.device)]) >= statistic).sum())
    return TwoSampleTest(
        statistic.item(), (1 + reached) / (1 + permutations), bandwidth.item(), len(a), len(b), permutations
    )
