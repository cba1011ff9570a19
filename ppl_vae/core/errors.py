"""The errors a user can meet: each carries one sentence naming the problem.

The command line prints ``ppl-vae: error: <sentence>`` for every :class:`UserError` and
exits with status 1; anything else is a bug and keeps its traceback. A
:class:`PluginError` is the one exception: the failing code is the user's own, so its
traceback follows the sentence.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the package cannot use as given; the message is one sentence."""


class ConfigError(UserError, ValueError):
    """An experiment file, override or command-line option that cannot be used as written."""


class UnknownNameError(UserError, KeyError):
    """A model, guide, network, dataset... name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class NameTakenError(UserError, ValueError):
    """A registration under a name that another constructor already has."""


class DataError(UserError, ValueError):
    """Data that a model cannot take: wrong shape, non-finite, out of range, changed on disk."""


class DataNotFoundError(UserError, FileNotFoundError):
    """Dataset files that are missing and could not be downloaded."""


class PairingError(UserError, ValueError):
    """A model and a guide that do not fit together."""


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the experiment."""


class RunError(UserError, ValueError):
    """A run directory that cannot be used as asked."""


class MeasureError(UserError, ValueError):
    """A figure asked of a pair that cannot give it (a log-likelihood of a deterministic encoder)."""


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrackerError(UserError, RuntimeError):
    """An experiment tracker (``training.loggers``) whose package is not installed, or that refuses to log."""


class PluginError(UserError):
    """User code (a plugin) raised; the command line prints its traceback after the sentence."""


def one_line(error: BaseException) -> str:
    """``error``'s message as one line for a sentence: without the tables Pyro appends to a message
    (``Trace Shapes:``), its line breaks joined."""
    return " ".join(str(error).split("Trace Shapes:")[0].split())
