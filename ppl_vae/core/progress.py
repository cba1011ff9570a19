"""Progress of long loops: a tqdm bar on a terminal, plain lines in a log file or CI (where tqdm is silent)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


class Progress:
    """Progress through ``epochs`` epochs of ``steps`` steps (or one pass of ``steps`` chunks).

    On a terminal (stderr is a TTY) it draws a tqdm bar; otherwise :meth:`epoch_done` prints
    one line per epoch and, with ``step_lines``, :meth:`step` prints a line at every tenth of
    the steps (for a single long pass, such as an evaluation). ``enabled=False`` shows nothing.
    """

    def __init__(
        self,
        what: str,
        steps: int,
        epochs: int = 1,
        epochs_done: int = 0,
        unit: str = "step",
        step_lines: bool = False,
        enabled: bool = True,
    ):
        self.what, self.steps, self.epochs, self.unit = what, steps, epochs, unit
        self.step_lines, self.enabled = step_lines and enabled, enabled
        self.done = steps * epochs_done
        self.total = steps * epochs
        self.bar = None

    def __enter__(self) -> Progress:
        if self.enabled and sys.stderr.isatty():
            self.bar = tqdm(total=self.total, initial=self.done, desc=self.what, unit=self.unit)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()

    def step(self, **figures: float) -> None:
        """One step done; ``figures`` are shown beside the bar."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.2f}" for k, v in figures.items()}, refresh=False)
        elif self.step_lines and self.steps >= 10 and self.done % (self.steps // 10) == 0:
            print(f"{self.what}: {self.done}/{self.steps} {self.unit}s", flush=True)

    def epoch_done(self, record, best: float) -> None:
        """After an epoch: a line with its figures when there is no terminal."""
        if self.enabled and self.bar is None:
            print(
                f"epoch {record.epoch}/{self.epochs}: train {record.train_objective:.2f}, "
                f"valid {record.valid_bound:.2f} (best {best:.2f}) nats, {record.seconds:.1f} s",
                flush=True,
            )
