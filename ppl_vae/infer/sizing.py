"""How work is cut into batches and chunks, so that no temporary tensor outgrows a memory budget.

Every pass that scores many examples with many particles (validation, importance weighting,
predictive checks) sizes its batches by the widest network of the pair: a conv decoder's hidden maps,
or a PixelCNN's, may hold several times as many numbers per sample as the data itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.weights import traced_log_weights

DEFAULT_MAX_ELEMENTS = 2**22  # 16 MiB per float32 tensor: measured fastest on 2 cores (iw_speed.py)


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``batch_size``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def widest_per_sample(pair: Pair, x: Tensor, y: Tensor | None = None) -> int:
    """The most numbers any network of ``pair`` makes for one sample (a conv decoder's hidden maps may hold
    several times as many as its output): one example is traced with forward hooks on every module.

    Chunks of work are sized by it, so that no temporary exceeds the memory budget: larger ones would be
    mapped and unmapped by the allocator at every chunk, and the kernel would work as hard as the arithmetic.
    """
    widest = [x[0].numel()]

    def record(module, inputs, output) -> None:
        if isinstance(output, Tensor) and output.dim() > 0:
            widest.append(output[0].numel())

    hooks = [module.register_forward_hook(record) for module in pair.modules()]
    try:
        with frozen(0, pair.device):
            traced_log_weights(
                pair.model, pair.guide, x[:1].to(pair.device), None if y is None else y[:1].to(pair.device), 1
            )
    finally:
        for hook in hooks:
            hook.remove()
    return max(widest)


def examples_per_batch(pair: Pair, x: Tensor, y: Tensor | None, particles: int) -> int:
    """Examples per pass so that their ``particles`` samples make at most DEFAULT_MAX_ELEMENTS numbers in any network
    of ``pair`` (:func:`widest_per_sample`, at least the width of an example): a validation pass of a PixelCNN
    decoder stays in hundreds of MB where 10,000 examples at once took 15 GB."""
    width = max(x[0].numel(), widest_per_sample(pair, x, y))
    return max(1, DEFAULT_MAX_ELEMENTS // (particles * width))


def chunk_sizes(n: int, k: int, width: int, max_elements: int) -> tuple[int, int]:
    """(examples, particles) per chunk so that examples * particles * width <= max_elements."""
    n_chunk = max(1, min(n, 100, max_elements // width))
    k_chunk = max(1, min(k, max_elements // (n_chunk * width)))
    return n_chunk, k_chunk
