"""Measuring trained pairs: the numbers, and the few files a measure needs to be repeatable.

``likelihood`` (log p(x) by importance weighting, with k-hat, ESS, active units, KL per
dimension), ``labels`` (log p(x) with an enumerated label summed out), ``ppc`` and ``statistics``
(predictive checks), ``sbc`` (simulation-based calibration of the guide), ``gaps`` (approximation
and amortization gaps), ``classify`` (the Bayes-rule classifier), ``supervised`` (a classifier on the
labels alone), ``probe`` (codes as features with few labels), ``latents`` (the three problems of a
latent space), ``aggregate`` and ``two_sample`` (codes against the prior, MMD), ``sample_quality``
(Fréchet distance, KID, precision and recall, label entropies) in the features of
``feature_classifier`` (a small conv classifier, cached under ``~/.cache/ppl_vae``), ``ood`` and
``detection`` (rejecting inputs by density).

Every function leaves the pair's parameters and the global random streams as they were. May import
``core``, ``data``, ``networks``, ``models``, ``guides`` and ``infer``.
"""
