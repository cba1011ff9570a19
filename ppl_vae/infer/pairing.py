"""The pairing check: does a guide fit a model? Run before any training and before any evaluation.

Both are traced on a tiny batch; the latent sites of the model (sample sites that are not
observed) must be exactly the guide's sample sites, with the same shapes and supports,
inside the ``data`` plate, and the model must observe the site its contract declares. Every
site's batch shape must be exactly what its plates make it, (N,) inside the ``data`` plate of
size N: the rest of a value's shape is event shape, or its log-density would be broadcast
across examples. When
the model's density depends on ``y`` (labels or outputs) and it has latents, the guide must
read ``y`` too: q(z | x) cannot stand in for q(z | x, y). An implicit model (a GAN's generator,
``ModelContract(density=False)``) has latents that no guide infers: its guide must sample nothing.
A model whose label is a latent site (``ModelContract.label_latent``: semi-supervised learning) is
traced twice, with the labels given (the label then observed, not latent) and with them hidden: there
its guide must infer the label with a classifier q(y | x). Any mismatch becomes one sentence naming
the sites. The check draws its samples from a private random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.core.contract import UNLABELLED
from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import PairingError, PluginError, one_line
from ppl_vae.core.plugins import raised_in_plugin
from ppl_vae.infer.weights import sample_sites

PROBE_SIZE = 8  # examples traced by the check: enough that some labels differ


@dataclass(frozen=True)
class Pairing:
    """What the check learned: the latent site names (in the order the model samples them), how deep plates
    nest, the shape of one example at each of the model's sample sites (``site_shapes``: such as
    ``{"z": (8,), "x": (1, 28, 28)}``), and which of the guide's sites it draws by reparameterization
    (``reparameterized``: what gradient estimators such as IWAE and DReG need)."""

    latent_sites: tuple[str, ...]
    max_plate_nesting: int
    site_shapes: dict[str, tuple[int, ...]]
    reparameterized: tuple[str, ...] = ()


def _support(site: dict) -> str | None:
    """The support of a site's distribution, as text to compare; None where the distribution declares none."""
    try:
        support = site["fn"].support
    except NotImplementedError:
        return None
    event_dim = 0
    while hasattr(support, "base_constraint"):  # independent, or a mixture of independent components
        event_dim += getattr(support, "reinterpreted_batch_ndims", 0)
        support = support.base_constraint
    return f"{support!r}" + (f" over {event_dim} event dim(s)" if event_dim else "")


def plate_shape(site: dict) -> tuple[int, ...]:
    """The batch shape that the plates around ``site`` give it: each plate's size at its dimension, 1 elsewhere."""
    frames = [f for f in site["cond_indep_stack"] if f.vectorized]
    if not frames:
        return ()
    shape = [1] * max(-f.dim for f in frames)
    for frame in frames:
        shape[frame.dim] = frame.size
    return tuple(shape)


def batch_shape_problem(role: str, name: str, site: dict, n: int) -> str | None:
    """A sentence when the distribution at ``site`` has another batch shape than its plates give it ((N,) inside
    the ``data`` plate of size N): the other dimensions must be declared as event dimensions, or each example's
    log-density would be broadcast against the others (an (N, N) table instead of N numbers)."""
    batch, expected = tuple(site["fn"].batch_shape), plate_shape(site)
    if batch == expected:
        return None
    value = site["value"]
    event = value.dim() - len(expected)
    return (
        f"the {role}'s site '{name}' has batch shape {batch} inside the 'data' plate of size {n}, where it must be "
        f"{expected}: each example's value has shape {tuple(value.shape[len(expected) :])}, so its distribution "
        f"must have {event} event dimension(s) (such as .to_event({event}) on a per-value distribution), not "
        f"{len(site['fn'].event_shape)}"
    )


def _trace(fn, role: str, name: str, x: Tensor, y: Tensor | None) -> poutine.Trace:
    try:
        return poutine.trace(fn).get_trace(x, y=y)
    except Exception as error:  # any failure of user code becomes one sentence
        sentence = (
            f"the {role} '{name}' fails on a batch of {x.shape[0]} examples: {type(error).__name__}: {one_line(error)}"
        )
        plugin = raised_in_plugin(error)
        if plugin is not None:
            raise PluginError(f"{sentence} (in plugin {plugin}; its traceback follows)") from error
        raise PairingError(sentence) from error


def _log_density(trace: poutine.Trace, seed: int) -> Tensor:
    """Sum of the log-densities of a trace's sample sites, drawing any randomness they need
    (dequantization noise) from a stream seeded with ``seed``."""
    torch.manual_seed(seed)
    return sum(site["fn"].log_prob(site["value"]).sum() for site in sample_sites(trace).values())


def _reads_y(fn, trace: poutine.Trace, role: str, name: str, x: Tensor, y: Tensor, other_y: Tensor) -> bool:
    """Does ``fn``'s log-density, at the values in ``trace``, change when ``y`` becomes ``other_y``?"""
    replayed = _trace(poutine.replay(fn, trace=trace), role, name, x, other_y)
    return not bool(torch.isclose(_log_density(trace, 1), _log_density(replayed, 1)))


def check_pair(
    model,
    guide,
    x: Tensor,
    y: Tensor | None = None,
    model_name: str = "model",
    guide_name: str = "guide",
    observed: str | None = None,
    implicit: bool = False,
    latents: tuple[str, ...] | None = None,
    covers: tuple[str, ...] | None = None,
    label_latent: bool = False,
) -> Pairing:
    """Trace ``model`` and ``guide`` on ``x`` (a few examples, such as the first :data:`PROBE_SIZE`) and
    ``y`` (their labels or outputs, or None) and raise :class:`PairingError` on misfit.

    ``observed``: the site the model's contract says it observes (checked when given). ``implicit``:
    the model declares no density, so the guide must sample nothing. ``latents``: the latent sites the
    model's contract declares, ``covers``: those the guide's declares (each checked when given).
    ``label_latent``: the model's label ``y`` is a latent site where it is hidden; the pair is checked with
    ``y`` given (when every label of ``y`` is) and with it hidden, and the returned pairing is the latter's.
    """
    with frozen(0, x.device):
        if not label_latent:
            return _check(model, guide, x, y, model_name, guide_name, observed, implicit, latents, covers)
        _require_classifier(guide, x, model_name, guide_name)
        if y is not None and bool((y != UNLABELLED).all()):
            given = [None if sites is None else tuple(s for s in sites if s != "y") for sites in (latents, covers)]
            _check(model, guide, x, y, model_name, guide_name, observed, implicit, *given)
        return _check(model, guide, x, None, model_name, guide_name, observed, implicit, latents, covers)


def _require_classifier(guide, x: Tensor, model_name: str, guide_name: str) -> None:
    """The one sentence for a guide that cannot infer a hidden label: it fails without labels, or samples no 'y'."""
    failure = ""
    try:
        infers = "y" in sample_sites(poutine.trace(guide).get_trace(x, y=None))
    except Exception as error:  # a guide that needs the labels it is not given
        infers, failure = False, f" (without labels it fails: {type(error).__name__}: {one_line(error)})"
    if not infers:
        raise PairingError(
            f"guide '{guide_name}' does not fit model '{model_name}': the model treats the label 'y' as a latent "
            f"site where it is hidden, but the guide has no classifier q(y | x) to infer it{failure}; pair it with "
            "a guide that samples 'y' from x alone, such as semi_supervised_encoder."
        )


def _names(sites) -> str:
    return ", ".join(map(repr, sites)) or "none"


def _check(model, guide, x, y, model_name, guide_name, observed, implicit, declared, covers) -> Pairing:
    model_trace, guide_trace = _trace(model, "model", model_name, x, y), _trace(guide, "guide", guide_name, x, y)
    model_sites, guide_sites = sample_sites(model_trace), sample_sites(guide_trace)
    latents = {n: s for n, s in model_sites.items() if not s["is_observed"]}
    problems = []
    observed_sites = [n for n, s in model_sites.items() if s["is_observed"]]
    if not observed_sites:
        problems.append("the model observes no site, so it cannot be trained on data")
    elif observed is not None and observed not in observed_sites:
        problems.append(
            f"the model declares that it observes '{observed}' but observes {', '.join(map(repr, observed_sites))}"
        )
    if implicit and guide_sites:
        problems.append(
            f"the model is implicit (no likelihood), so no guide infers its latents, but the guide samples "
            f"{', '.join(map(repr, sorted(guide_sites)))}: pair it with guide 'none'"
        )
    site_shapes = {n: tuple(site["value"].shape[1:]) for n, site in model_sites.items()}
    if declared is not None and not implicit and set(declared) != set(latents):
        problems.append(
            f"the model declares latent site(s) {_names(declared)} in its contract but samples {_names(latents)}"
        )
    if covers is not None and set(covers) != set(guide_sites):
        problems.append(f"the guide declares that it covers {_names(covers)} but samples {_names(guide_sites)}")
    if implicit:
        latents = {}
    missing = sorted(set(latents) - set(guide_sites))
    extra = sorted(set(guide_sites) - set(latents))
    if missing:
        problems.append(f"the guide misses the model's latent site(s) {', '.join(map(repr, missing))}")
    if extra:
        problems.append(
            f"the guide samples site(s) {', '.join(map(repr, extra))} that the model does not have as latents"
        )
    for name in sorted(set(latents) & set(guide_sites)):
        model_shape, guide_shape = tuple(latents[name]["value"].shape), tuple(guide_sites[name]["value"].shape)
        if model_shape != guide_shape:
            problems.append(
                f"the guide samples '{name}' with shape {guide_shape} where the model's has shape {model_shape}"
            )
        supports = _support(latents[name]), _support(guide_sites[name])
        if None not in supports and supports[0] != supports[1]:
            problems.append(
                f"the guide samples '{name}' on support {_support(guide_sites[name])} where the model's "
                f"is {_support(latents[name])}"
            )
    for role, sites in (("model", model_sites), ("guide", guide_sites)):
        outside = sorted(n for n, s in sites.items() if not any(f.name == "data" for f in s["cond_indep_stack"]))
        if outside:
            problems.append(f"the {role} samples {', '.join(map(repr, outside))} outside the 'data' plate")
        for name in sorted(set(sites) - set(outside)):
            problem = batch_shape_problem(role, name, sites[name], x.shape[0])
            if problem:
                problems.append(problem)
    other_y = None if y is None else y.roll(1, 0)
    if (
        not problems
        and latents
        and other_y is not None
        and not torch.equal(other_y, y)
        and _reads_y(model, model_trace, "model", model_name, x, y, other_y)
        and not _reads_y(guide, guide_trace, "guide", guide_name, x, y, other_y)
    ):
        problems.append(
            "the model's density depends on 'y' but the guide ignores 'y': its q(z | x) must also read 'y' "
            "(as the conditional_encoder guide does)"
        )
    if problems:
        raise PairingError(f"guide '{guide_name}' does not fit model '{model_name}': " + "; ".join(problems) + ".")
    nesting = max(len(s["cond_indep_stack"]) for s in (*model_sites.values(), *guide_sites.values()))
    reparameterized = tuple(n for n, site in guide_sites.items() if site["fn"].has_rsample)
    return Pairing(tuple(latents), nesting, site_shapes, reparameterized)
