"""What every layer uses: registries, the model/guide contract, experiment config, errors, and the plumbing.

``registry`` (names -> constructors for every extensible axis), ``contract`` (what models and
guides declare), ``config`` (experiment files, ``TrainingConfig``), ``construct`` (building a
registered piece from a table), ``plugins`` (user files that register names), ``errors`` (one
sentence per user error), ``devices`` (devices, dtypes, random streams), ``files`` (atomic writes),
``functions`` (plain Pyro functions as modules), ``distributions`` (distribution heads shared by
models and guides), ``sizes`` and ``progress``.

Imports nothing else of ppl_vae. ``registry``, ``config``, ``errors`` and ``plugins`` import neither
torch nor Pyro, so that ``import ppl_vae``, ``ppl-vae --help`` and ``ppl-vae list`` start fast.
"""
