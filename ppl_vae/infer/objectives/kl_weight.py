"""Weighting the latent term of any objective: beta-VAEs and KL warm-up."""

from __future__ import annotations

from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample


class KLWeight(Messenger):
    """Multiplies the log-density of every latent (unobserved) site by ``beta``.

    Used as a context around the loss (so that it applies to both model and guide), it turns the ELBO into
    E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)): beta < 1 during warm-up
    (Bowman et al. 2016; Sønderby et al. 2016), beta > 1 for a beta-VAE. ``beta`` is
    read at every call, so a schedule just assigns it.
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def _process_message(self, msg: dict) -> None:
        if msg["type"] == "sample" and not msg["is_observed"] and not site_is_subsample(msg):
            msg["scale"] = msg["scale"] * self.beta
