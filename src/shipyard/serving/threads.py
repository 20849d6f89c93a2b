"""The native thread pools a model may use, limited in every thread that calls it.

Setting ``OMP_NUM_THREADS`` only works before the OpenMP/BLAS runtime is
loaded; a one-worker ``shipyard serve`` has imported numpy and scikit-learn
long before, so the variables alone change nothing and a tree model spins up
every core for a one-row request. threadpoolctl changes the live runtimes
instead. BLAS limits are process-wide, but an OpenMP limit belongs to the
thread that sets it (libgomp keeps it per thread), so it is applied once in
each thread that runs a model: the event loop (inline requests), the batch
threads and the pool behind ``asyncio.to_thread``. A model loaded later may
bring a runtime of its own (onnxruntime, a second libgomp): ``refresh`` finds
it and every thread applies the limit again before its next call.
"""

from __future__ import annotations

import logging
import threading

from threadpoolctl import ThreadpoolController

logger = logging.getLogger(__name__)


class ModelThreads:
    """One process's limit on native thread pools, applied lazily per calling thread."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"model threads must be >= 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._local = threading.local()
        self._generation = 0
        self._controller = ThreadpoolController()

    def refresh(self) -> None:
        """Look again for loaded runtimes (after loading a model) and re-apply everywhere."""
        controller = ThreadpoolController()
        with self._lock:
            self._controller = controller
            self._generation += 1
        self.apply()

    def apply(self) -> None:
        """Limit the calling thread's pools; a no-op once done for this generation."""
        generation = self._generation
        if getattr(self._local, "generation", -1) == generation:
            return
        self._controller.limit(limits=self.limit)
        self._local.generation = generation
        logger.debug(
            "thread %s: native pools limited to %d thread(s)",
            threading.current_thread().name,
            self.limit,
        )
