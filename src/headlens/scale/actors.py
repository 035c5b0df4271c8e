"""Ray Data's offline batch inference over blocks of corpus items (docs/scale.md).

The structure is the one Ray Data's batch-inference guide gives: a dataset of blocks
(``ray.data.from_items``), ``map_batches`` with a callable class, so that an actor pool of
``workers`` actors each loads the model once and then scores block after block, and the results
streamed back to the driver in block order (``preserve_order``). Blocks and results travel
pickled (``Block`` and ``Scored``, runner/blocks.py): a block's raw corpus items in, its
per-sentence reduced rows out, never an attention map.

A lost worker (killed, out of memory, its node gone) fails Ray Data's execution with a
``RayActorError``; the blocks whose results had not reached the driver are then scored again by a
new pool, up to ``attempts`` times. Results reach the driver in block order and each block is
stored once, so nothing is lost or stored twice. An exception raised by the scoring code itself
(a bad sentence) is not retried: the worker returns it, and the driver raises it, the original
exception with the worker's traceback as a note, once the blocks before it are stored, as a local
run raises it.
"""

from __future__ import annotations

import logging
import pickle
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .cluster import require_ray

ATTEMPTS = 3  # pools started after the first one when workers are lost


class BlockWorker:
    """One actor of the pool: ``factory()`` (the model, the front half and the engine) is built once."""

    def __init__(self, factory: Callable):
        self.score = factory()

    def __call__(self, batch: dict) -> dict:
        return {"scored": np.asarray([self._score(pickle.loads(b)) for b in batch["block"]], dtype=object)}

    def _score(self, block) -> bytes:
        """The pickled result, or the pickled exception the scoring raised: the driver raises it in its
        turn (after the blocks before it are stored), as the original exception, as a local run does."""
        try:
            return pickle.dumps(self.score(block))
        except Exception as e:
            e.add_note(f"(raised by a Ray worker scoring block {getattr(block, 'index', '?')}:\n{traceback.format_exc()})")
            try:
                return pickle.dumps(e)
            except Exception:  # an exception that does not pickle travels as its text
                return pickle.dumps(RuntimeError(f"{type(e).__name__}: {e}"))


def _lost(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) says a worker or its node was lost, not that the code failed."""
    from ray import exceptions as rx

    lost = tuple(getattr(rx, n) for n in ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError")
                 if hasattr(rx, n))
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, lost):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class _Raised(Exception):
    """Carries the exception a worker's scoring raised past the retry logic."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _dataset(ray, blocks: Sequence, factory: Callable, workers: int, cpus: float, gpus: float):
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # results in block order: the driver writes parts in corpus order
    ctx.enable_progress_bars = False  # headlens draws its own
    items = [{"block": pickle.dumps(b)} for b in blocks]
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # not Ray Data's per-execution notes
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        BlockWorker, fn_constructor_args=(factory,), compute=ray.data.ActorPoolStrategy(size=workers), batch_size=1,
        batch_format="numpy", num_cpus=cpus, num_gpus=gpus or None)


def score_blocks(blocks: Sequence, factory: Callable, workers: int, cpus: float = 1, gpus: float = 0,
                 attempts: int = ATTEMPTS) -> Iterator[tuple[object, object]]:
    """(block, its result) for every block of ``blocks``, in order, scored by a pool of ``workers``
    actors (each ``cpus`` CPUs and ``gpus`` GPUs) built by ``factory``."""
    ray = require_ray()
    pending = list(blocks)
    lost = 0
    while pending:
        try:
            for row in _dataset(ray, pending, factory, workers, cpus, gpus).iter_rows():
                scored = pickle.loads(row["scored"])
                if isinstance(scored, Exception):
                    raise _Raised(scored)
                block = pending.pop(0)
                if scored.block != block.index:  # preserve_order guarantees it: a break would store a block twice
                    raise RuntimeError(f"Ray returned block {scored.block} where block {block.index} was due.")
                yield block, scored
        except _Raised as e:
            raise e.error from None
        except Exception as e:
            if not _lost(e):
                raise
            lost += 1
            if lost > attempts:
                raise RuntimeError(f"Ray workers were lost {lost} times; {len(pending)} blocks were not scored "
                                   f"(last: {e}). Check the cluster (`ray status`), then resume the run with --resume.") from e
            warnings.warn(f"a Ray worker was lost ({type(e).__name__}); scoring the {len(pending)} blocks still due "
                          f"with a new pool (attempt {lost} of {attempts}).", stacklevel=2)
