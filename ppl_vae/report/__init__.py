"""Figures and files: the end-of-run report and what the commands draw.

``summary`` (``summary.json``, from the report hooks a run's declarations choose), ``hooks`` (the
built-in report hooks), ``samples`` (the built-in sample figures), ``context`` (what hooks see of a
run), ``plots`` (figure primitives), ``figures`` and ``latent_figures`` (images of a pair),
``ppc``, ``classification`` and ``ood`` (the files of those measures); ``loggers`` (the experiment trackers
of ``training.loggers``: TensorBoard, MLflow, yours).

May import ``core``, ``data``, ``infer``, ``train`` (the epoch records the loggers receive) and ``evaluation``.
"""
