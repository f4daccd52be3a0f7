"""Data-parallel set-up for MindSpore's launcher, msrun.

msrun starts one process per worker, plus a scheduler process running the same command, and
tells each its role through the environment (`MS_ROLE=MS_WORKER` or `MS_SCHED`,
`MS_WORKER_NUM`, `MS_NODE_ID`, `RANK_ID`, ...). Every one of them calls
`mindspore.communication.init()`: the scheduler coordinates the workers there and then has
nothing else to do; a worker joins the group. In DATA_PARALLEL mode with
`gradients_mean=True` the training step averages gradients across workers, so every worker
applies the same update and the weights stay identical. Each worker reads its own shard.

    >>> world = setup_data_parallel()       # World(rank=0, size=1) when not launched by msrun
    >>> dataset = create_train_dataset(..., num_shards=world.shard_count, shard_id=world.shard_id)
"""
import os
from typing import NamedTuple

import mindspore as ms
import numpy as np


class World(NamedTuple):
    rank: int = 0
    size: int = 1
    scheduler: bool = False  # msrun's coordinating process: it must not train

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """The worker that writes checkpoints and summaries."""
        return self.rank == 0

    @property
    def shard_count(self):
        return self.size if self.distributed else None

    @property
    def shard_id(self):
        return self.rank if self.distributed else None


def launched_by_msrun(environ=None) -> bool:
    """True inside a process (worker or scheduler) started by msrun's dynamic cluster."""
    environ = os.environ if environ is None else environ
    return environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED") and "MS_WORKER_NUM" in environ


def setup_data_parallel(environ=None) -> World:
    """Join the worker group and switch on data parallelism when msrun launched us.

    In msrun's scheduler process this returns (after the workers are done) a World whose
    `scheduler` is True: the caller should then stop.
    """
    environ = os.environ if environ is None else environ
    if not launched_by_msrun(environ):
        return World()
    from mindspore.communication import get_group_size, get_rank, init

    init()
    if environ.get("MS_ROLE") == "MS_SCHED":
        return World(rank=-1, size=int(environ["MS_WORKER_NUM"]), scheduler=True)
    world = World(rank=get_rank(), size=get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=world.size)
    return world


def all_gather_rows(rows: np.ndarray) -> np.ndarray:
    """Every worker's int32 rows [n_i, k] stacked in rank order, on every worker.

    The workers may hold different numbers of rows: counts are gathered first and the rows padded
    to the largest. (int32 because MindSpore's CPU collectives carry it exactly; float64 arrives
    as float32.)
    """
    from mindspore import ops

    rows = np.ascontiguousarray(rows, np.int32)
    width = rows.shape[1]
    counts = ops.AllGather()(ms.Tensor(np.array([len(rows)], np.int32))).asnumpy()
    padded = np.zeros((max(int(counts.max()), 1), width), np.int32)
    padded[:len(rows)] = rows
    gathered = ops.AllGather()(ms.Tensor(padded)).asnumpy().reshape(len(counts), -1, width)
    return np.concatenate([gathered[rank, :count] for rank, count in enumerate(counts)])
