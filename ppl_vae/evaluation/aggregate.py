r"""How close the aggregate posterior q(z) = E_x q(z | x) is to the prior p(z).

A VAE pulls every q(z | x) towards p(z) through its KL term; an adversarial autoencoder pushes
only their mixture q(z) towards it, through a discriminator. Both claims are measured the same
way, at the model's code site z (``ModelContract.code``): one code z ~ q(z | x) per example against
as many draws of the model's own prior at that site
(given each example's label when the prior reads labels), compared by the kernel two-sample test
of ``ppl_vae.evaluation.two_sample`` (MMD with a permutation p-value).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import MeasureError
from ppl_vae.evaluation.two_sample import TwoSampleTest, mmd_test
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import batches


def code_and_prior_draws(
    pair: Pair, x: Tensor, y: Tensor | None = None, seed: int = 0, batch_size: int = 1000
) -> tuple[Tensor, Tensor]:
    """(codes z ~ q(z | x), one per example of x (N, *x_shape); as many draws of the model's prior at z, given
    each example's y), both (N, latent_dim) on the CPU, drawn with ``seed``."""
    if not pair.model_contract.density or not pair.model_contract.latent:
        raise MeasureError(f"the model '{pair.model_name}' has no latent codes that a guide infers")
    device, codes, drawn, site = pair.device, [], [], pair.model_contract.code
    with frozen(seed, device), torch.no_grad():
        for s in batches(x.shape[0], batch_size):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            guide_trace = poutine.trace(pair.guide).get_trace(xs, y=ys)
            if site not in guide_trace.nodes:
                raise MeasureError(f"the guide '{pair.guide_name}' samples no site '{site}', the model's code")
            model_trace = poutine.trace(poutine.replay(pair.model, trace=guide_trace)).get_trace(xs, y=ys)
            codes.append(guide_trace.nodes[site]["value"].reshape(len(xs), -1).cpu())
            drawn.append(model_trace.nodes[site]["fn"].sample().reshape(len(xs), -1).cpu())
    return torch.cat(codes), torch.cat(drawn)


def code_scale_ratios(codes: Tensor, drawn: Tensor) -> list[float]:
    """Per latent, the standard deviation of ``codes`` (N, latent_dim) over that of the prior draws ``drawn``
    (M, latent_dim): 1 where the aggregate posterior spreads as the prior does, above 1 where it spreads wider."""
    return (codes.double().std(0) / drawn.double().std(0)).tolist()


def aggregate_posterior_test(
    pair: Pair, x: Tensor, y: Tensor | None = None, permutations: int = 200, seed: int = 0
) -> TwoSampleTest:
    """MMD between codes of ``x`` (N, *x_shape) and N prior draws, with its permutation p-value."""
    codes, drawn = code_and_prior_draws(pair, x, y, seed)
    return mmd_test(codes, drawn, permutations, seed)


def prior_log_density(pair: Pair, y: Tensor | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """log p(z) at points (G, latent_dim), nats, of a model that generates whole data points: its prior at
    ``z``, averaged over the labels ``y`` (N,) with their frequencies when given (the marginal prior of a
    model whose prior reads labels; the prior itself otherwise)."""
    labels, weights = None, torch.ones(1)
    if y is not None:
        labels, counts = torch.unique(y.cpu(), return_counts=True)
        weights = counts.double() / counts.sum()
    with frozen(0, pair.device), torch.no_grad():
        given = None if labels is None else labels.to(pair.device)
        trace = poutine.trace(pair.model).get_trace(None, y=given, num_samples=len(weights))
        prior = trace.nodes[pair.model_contract.code]["fn"]

    def log_density(points: np.ndarray) -> np.ndarray:
        anchor = prior.sample()
        z = torch.as_tensor(points, dtype=anchor.dtype, device=anchor.device)[:, None, :]
        log_weights = weights.log().to(anchor.dtype).to(anchor.device)
        with torch.no_grad():
            return torch.logsumexp(prior.log_prob(z) + log_weights, dim=1).cpu().numpy()

    return log_density
