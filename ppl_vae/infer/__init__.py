"""Inference: the model/guide pair and everything that scores it.

``pair`` (a model and a guide as one module) and ``pairing`` (the check that they fit, run before
anything else), ``weights`` (per-example importance log-weights, the one piece of Monte Carlo
machinery), ``objectives/`` (training objectives, one file per bound), ``direct_elbo`` (the
one-particle ELBO without Pyro's tracing, checked against it), ``bounds`` (per-example ELBO and IW
bounds), ``sizing`` (batches and chunks within a memory budget), ``predictive`` (prior and
posterior predictive draws).

May import ``core``, ``data``, ``networks``, and the base classes of ``models`` and ``guides``.
"""
