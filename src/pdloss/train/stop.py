"""SIGTERM stops a training run as Ctrl-C does: after the step under way, with a checkpoint.

``kill PID`` (a scheduler's pre-emption, ``timeout``, a closed session) sends SIGTERM, whose
default action ends the process at once: the steps since the last periodic checkpoint were lost.
Inside :class:`StopOnSigterm` the signal only sets a flag; the training loop asks
:meth:`StopOnSigterm.requested` after each step and then raises :class:`Terminated` (a
``KeyboardInterrupt``, so the trainer's interrupt path saves the state after the last finished step
and ``pdloss`` exits with status 143 = 128 + SIGTERM).

Why a flag and not an exception raised in the handler: an exception may land in the middle of the
optimiser's update, and the checkpoint would hold a half-updated model.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import torch

from pdloss.train import distributed


class Terminated(KeyboardInterrupt):
    """The run was stopped by a signal (``signum``) after its last finished step was saved."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


class StopOnSigterm:
    """For the ``with`` block, SIGTERM sets a flag instead of ending the process.

    Installed only in the main thread (Python delivers signals there; ``signal.signal`` refuses
    other threads): a run trained from another thread keeps the default SIGTERM. The previous
    handler is put back on exit, and a signal not acted on inside the block raises
    :class:`Terminated` there.
    """

    def __init__(self, dist: distributed.DistInfo | None = None) -> None:
        self.dist = dist or distributed.DistInfo()
        self.signum: int | None = None
        self._previous = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum

    def __enter__(self) -> StopOnSigterm:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False
        if exc_type is None and self.signum is not None:
            # A signal the loop did not act on (it came during the last step): the run is complete
            # and saved, and the process still stops, as asked, instead of going on (a sweep's next run).
            raise Terminated(self.signum)

    def requested(self) -> bool:
        """Whether a stop was asked for. Under DDP every rank agrees (any rank's signal stops all),
        so that no rank waits in a collective the others have left."""
        flag = self.signum is not None
        if self.dist.enabled:
            votes = torch.tensor([float(flag)], device=self.dist.device)
            distributed.all_reduce_sum(votes, self.dist)
            flag = bool(votes.item() > 0)
            if flag and self.signum is None:
                self.signum = signal.SIGTERM
        return flag

    def check(self) -> None:
        """Raise :class:`Terminated` when a stop was asked for."""
        if self.requested():
            raise Terminated(self.signum or signal.SIGTERM)
