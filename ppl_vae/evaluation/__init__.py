"""Measuring trained pairs: numbers, never files.

``likelihood`` (log p(x) by importance weighting, with k-hat, ESS, active units, KL per
dimension), ``ppc`` and ``statistics`` (posterior predictive checks), ``classify`` (the Bayes-rule
classifier), ``probe`` (codes as features with few labels), ``latents`` (the three problems of a
latent space), ``aggregate`` and ``two_sample`` (codes against the prior, MMD), ``sample_quality``
(Fréchet distance and label entropies), ``ood`` and ``detection`` (rejecting inputs by density).

Every function leaves the pair's parameters and the global random streams as they were. May import
``core``, ``data``, ``networks`` and ``infer``.
"""
