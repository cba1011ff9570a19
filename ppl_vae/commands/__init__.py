"""What each ``ppl-vae`` command does, as a Python function of the same name: one module per command.

Each takes a run directory (or a loaded :class:`~ppl_vae.runs.trained.TrainedRun`) and plain options,
refuses bad input in one sentence (:class:`~ppl_vae.core.errors.UserError`), measures with
``ppl_vae.evaluation``, writes its files into the run directory under the run's lock, with names
that say what they hold (never replacing the files training wrote), and returns what it measured.
The command line (``ppl_vae.cli``) only parses arguments and prints these results.

May import every other subpackage but ``cli``.
"""
