"""Run directories: preparing a run from an experiment, training into one, loading one back.

``prepare`` (from an experiment to checked data and a checked pair; writes nothing),
``directory`` (what a run directory holds, making one, reading it back), ``lock`` (one writer per
run directory), ``training`` (train and resume, then the report), ``trained`` (a trained run
loaded onto any device, its data rebuilt exactly).

May import every subpackage below it: ``core``, ``data``, ``networks``, ``infer``, ``train``,
``evaluation`` and ``report``.
"""
