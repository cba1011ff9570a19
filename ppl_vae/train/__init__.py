"""Training: the epoch loop and what one step does.

``trainer`` (epochs, validation, early stopping, checkpoints), ``strategy`` (the base of training
strategies: phases, each with its optimizer and schedule), ``svi`` and ``adversarial`` (the
built-in strategies: SVI; the adversarial autoencoder and the GAN), ``optimizers`` and
``schedules`` (registered by name), ``checkpoint`` (atomic, checked), ``distributed`` (torchrun),
``compiled`` (``training.compile``: what ``torch.compile`` compiles), ``lightning_module`` (a pair as a
Lightning ``LightningModule``; needs the ``lightning`` extra).

May import ``core``, ``data``, ``networks`` and ``infer``.
"""
