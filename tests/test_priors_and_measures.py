"""Priors by name, the kernel two-sample test and the sample-quality measures, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pyro
import pytest
import torch

from ppl_vae.evaluation.sample_quality import entropies, frechet_distance, kernel_distance, precision_recall
from ppl_vae.evaluation.two_sample import mmd_test
from ppl_vae.infer.objectives import make_objective
from ppl_vae.models.bernoulli import BernoulliVAE
from ppl_vae.models.priors import build_prior


def test_circle_mixture_density_is_the_equal_mixture_of_its_components():
    prior = build_prior({"name": "gaussian_mixture", "components": 4, "radius": 2.0, "scale": 0.5}, 3)
    point = torch.tensor([[0.3, -1.2, 0.7]])
    means = [(2.0, 0.0), (0.0, 2.0), (-2.0, 0.0), (0.0, -2.0)]
    by_hand = 0.0
    for mx, my in means:
        plane = math.exp(-((0.3 - mx) ** 2 + (-1.2 - my) ** 2) / (2 * 0.25)) / (2 * math.pi * 0.25)
        by_hand += 0.25 * plane * math.exp(-(0.7**2) / 2) / math.sqrt(2 * math.pi)
    assert prior.distribution(1).log_prob(point).item() == pytest.approx(math.log(by_hand), rel=1e-5)


def test_labels_pick_their_part_of_a_mixture_prior():
    mixture = build_prior({"name": "gaussian_mixture", "components": 10, "scale": 0.1}, 2)
    labels = torch.arange(10).repeat(20)
    drawn = mixture.for_labels(labels, 10).sample()
    nearest = torch.cdist(drawn, mixture.locations).argmin(1)
    assert torch.equal(nearest, labels)
    roll = build_prior({"name": "swiss_roll", "components": 200}, 2)
    segment = roll.for_labels(torch.full((500,), 3), 10).sample()
    owners = torch.cdist(segment, roll.locations).argmin(1) // 20
    assert (owners == 3).float().mean() > 0.9


def test_swiss_roll_draws_follow_the_spiral():
    roll = build_prior({"name": "swiss_roll", "scale": 0.05}, 2)
    z = roll.distribution(2000).sample().double()
    radius, angle = z.norm(dim=1), torch.atan2(z[:, 1], z[:, 0])
    t = radius / 4.0  # the spiral: r = 4 t at angle 3 pi t (mod 2 pi)
    wrapped = torch.remainder(angle - 3 * math.pi * t + math.pi, 2 * math.pi) - math.pi
    assert (wrapped.abs() < 0.25).float().mean() > 0.9
    assert 0.0 < t.min() < 0.2 and 3.8 < radius.max() < 4.3  # t runs over [0.1, 1]


def test_a_mixture_prior_makes_analytic_kl_fall_back_to_the_monte_carlo_elbo():
    model = BernoulliVAE((6,), latent_dim=2, prior={"name": "gaussian_mixture", "components": 3})
    x = torch.bernoulli(torch.full((5, 6), 0.4))

    def guide(x, y=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", pyro.distributions.Normal(torch.zeros(x.shape[0], 2), 0.5).to_event(1))

    losses = []
    for name in ("trace_elbo", "analytic_kl"):
        pyro.set_rng_seed(3)
        losses.append(make_objective(name).differentiable_loss(model, guide, x).item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_mmd_statistic_matches_the_double_sums():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 2, generator=generator), torch.randn(4, 2, generator=generator) + 0.5
    result = mmd_test(a, b, permutations=0)
    pooled = torch.cat([a, b]).double()
    distances = torch.cdist(pooled, pooled)
    bandwidth = distances[~torch.eye(9, dtype=torch.bool)].median()
    k = torch.exp(-distances.square() / (2 * bandwidth**2))
    aa = sum(k[i, j] for i in range(5) for j in range(5) if i != j) / 20
    bb = sum(k[i, j] for i in range(5, 9) for j in range(5, 9) if i != j) / 12
    ab = sum(k[i, j] for i in range(5) for j in range(5, 9)) / 20
    assert result.statistic == pytest.approx((aa + bb - 2 * ab).item(), rel=1e-9)
    assert result.bandwidth == pytest.approx(bandwidth.item())


def test_mmd_permutation_p_values_reject_a_shift_and_are_calibrated_under_the_null():
    generator = torch.Generator().manual_seed(1)
    shifted = mmd_test(torch.randn(200, 2, generator=generator), torch.randn(200, 2, generator=generator) + 1, 99)
    assert shifted.p_value == pytest.approx(0.01)
    null = [
        mmd_test(torch.randn(40, 2, generator=generator), torch.randn(40, 2, generator=generator), 49, seed)
        for seed in range(40)
    ]
    rejected = np.mean([r.p_value <= 0.1 for r in null])
    assert rejected < 0.3 and np.mean([r.p_value for r in null]) == pytest.approx(0.5, abs=0.15)


def test_frechet_distance_by_hand_for_a_shift_and_a_scaling():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(500, 4, generator=generator, dtype=torch.float64) @ torch.randn(4, 4, generator=generator).double()
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)
    mean, covariance = a.mean(0), torch.cov(a.T)
    assert frechet_distance(a, 2 * a) == pytest.approx(float((mean**2).sum() + covariance.trace()), rel=1e-6)


def digits_halves(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 digits' pixel vectors (64 values in [0, 16]) split at random into two halves."""
    from sklearn.datasets import load_digits

    pixels = torch.as_tensor(load_digits().data, dtype=torch.float64)
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))
    return pixels[order[:300]], pixels[order[300:600]]


def test_kernel_distance_is_unbiased_for_two_samples_of_the_digits_and_positive_against_noise():
    """KID's mean over 20 random splits of the digits into two samples is within 3 standard errors of 0, where the
    (biased) Fréchet distance of the same splits stays clearly positive; against uniform noise KID is positive by
    many standard deviations."""
    same, frechet = [], []
    for seed in range(20):
        a, b = digits_halves(seed)
        same.append(kernel_distance(a, b, subsets=5, seed=seed)[0])
        frechet.append(frechet_distance(a, b))
    same = torch.tensor(same)
    standard_error = float(same.std() / math.sqrt(len(same)))
    assert abs(float(same.mean())) < 3 * standard_error
    assert (same < 0).any() and (same > 0).any()
    assert min(frechet) > 0
    a, _ = digits_halves(0)
    noise = 16 * torch.rand(300, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    against_noise, spread = kernel_distance(noise, a, subsets=5, seed=0)
    assert against_noise > 10 * float(same.std()) and against_noise > 3 * spread


def test_precision_and_recall_by_hand_for_identical_distant_and_collapsed_samples():
    generator = torch.Generator().manual_seed(0)
    centres = 10 * torch.eye(4, dtype=torch.float64)
    real = centres.repeat_interleave(50, 0) + torch.randn(200, 4, generator=generator, dtype=torch.float64)
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real + 100, real) == (0.0, 0.0)
    collapsed = real[:50]  # every sample from one of the four clusters
    precision, recall = precision_recall(collapsed, real)
    assert precision == 1.0 and 0.15 < recall < 0.3


def test_label_entropies_of_confident_and_uniform_predictions():
    one_hot = torch.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]].double()
    assert entropies(one_hot) == pytest.approx((0.0, math.log(4)), abs=1e-9)
    assert entropies(torch.full((5, 4), 0.25)) == pytest.approx((math.log(4), math.log(4)))
    collapsed = torch.eye(4)[[2] * 8].double()
    assert entropies(collapsed) == pytest.approx((0.0, 0.0), abs=1e-9)
