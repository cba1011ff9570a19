"""The Lightning route: a step under lightning.Trainer is the engine's SVI step; what it refuses."""

from __future__ import annotations

import pytest
import torch

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.errors import ConfigError
from ppl_vae.data import Split
from tests.conftest import synthetic_binary
from tests.test_training import small_pair

pytest.importorskip("lightning", reason="the lightning extra is not installed: pip install 'ppl_vae[lightning]'")


def test_a_lightning_step_is_the_engines_svi_step_and_the_trained_pair_is_left_for_evaluation():
    import lightning

    from ppl_vae.train.lightning_module import PairModule, loader
    from ppl_vae.train.svi import SVIStrategy

    data = synthetic_binary()
    x = data.train.x[:50]
    config = TrainingConfig(learning_rate=0.05, batch_size=50, warmup_epochs=2.0)
    pairs = []
    for _ in range(2):
        torch.manual_seed(0)
        pairs.append(small_pair())
        pairs[-1].check(data.valid.x[:8])
    ours, theirs = pairs
    torch.manual_seed(1)
    ours.train()
    beta = 0.5  # step 1 of a warm-up over 2 epochs of one step
    objective = SVIStrategy(ours, config).step(x, None, beta, len(x))

    class Seeded(lightning.Callback):  # the same random state at the step (the DataLoader draws a seed before it)
        def on_train_batch_start(self, *args) -> None:
            torch.manual_seed(1)

    trainer = lightning.Trainer(
        max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[Seeded()],
    )
    trainer.fit(PairModule(theirs, config), loader(Split(x), 50))
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert trainer.callback_metrics["train_objective"].item() == pytest.approx(objective, rel=1e-5)
    assert trainer.callback_metrics["beta"].item() == pytest.approx(beta)
    assert not theirs.training  # back in evaluation mode, as the engine leaves a trained pair


def test_the_lightning_route_refuses_adversarial_strategies():
    from ppl_vae.train.lightning_module import PairModule

    pair = small_pair()
    pair.check(synthetic_binary().valid.x[:8])
    with pytest.raises(ConfigError, match="the Lightning route trains by SVI; training.strategy 'aae'"):
        PairModule(pair, TrainingConfig(strategy="aae"))
