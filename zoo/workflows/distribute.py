"""Training across devices, through TensorFlow's own ``tf.distribute``.

``mirrored``: ``tf.distribute.MirroredStrategy`` over the machine's GPUs or, on a machine
without one, over N logical CPU devices, which TensorFlow creates only before it
initialises its devices (``configure_replicas``; refused with what to do afterwards).

What a distributed run means, so that the same recipe, seed and replica count give the
same bytes: the **global batch** is the recipe's batch size, in the same
``rng([seed, epoch])`` order as a single-device run, split evenly across the replicas;
the **learning rate** is the recipe's (same global batch, same rate); the gradients are
summed across replicas in a fixed order (``ReductionToOneDevice`` on CPUs). The manifest
records the strategy, the replica count and the cross-device reduction; a run resumed on
another topology continues with a warning, since its bytes will differ from a run on the
recorded one.

``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the cluster named by
the standard ``TF_CONFIG``, every worker running the same ``zoo train`` command. Every
worker trains, evaluates and saves (saving and evaluating are collective), but only the
chief writes the run directory and publishes; the others write into a private temporary
directory, removed at the end. A worker that dies fails the others within
``ZOO_COLLECTIVE_TIMEOUT`` seconds (``DistributedError``) instead of hanging them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from zoo.constants import collective_timeout
from zoo.errors import DistributedError, UsageError
from zoo.formats import manifest as mf

STRATEGIES = ("mirrored", "multiworker")


@dataclass(frozen=True)
class Topology:
    """Where a run trains: the strategy to build and fit under (None: the default device),
    its record for the manifest, and whether this process writes the run (the chief)."""

    strategy: Any = None
    record: mf.Distribution | None = None
    chief: bool = True


class TopologyWarning(UserWarning):
    """A run resumes on another topology than the one it recorded: it goes on, with other bytes."""


def check(strategy: str | None, replicas: int | None) -> None:
    """Refuse a strategy or replica count that cannot mean anything, before any work."""
    if strategy is None:
        if replicas is not None:
            raise UsageError("`replicas` is for a distributed run: pass `strategy='mirrored'` too")
        return
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}", hint=f"Use one of: {', '.join(STRATEGIES)}.")
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1):
        raise UsageError(f"`replicas` must be a positive integer, got {replicas!r}")
    if strategy == "multiworker" and replicas is not None:
        raise UsageError("`replicas` is for `strategy='mirrored'`: a multi-worker run has the workers TF_CONFIG names")


def make(strategy: str | None, replicas: int | None) -> Topology:
    """The topology to train on (call it before TensorFlow's first op)."""
    check(strategy, replicas)
    if strategy is None:
        return Topology()
    if strategy == "multiworker":
        return _multiworker()
    from zoo.tf import tf

    gpus = tf.config.list_physical_devices("GPU")
    count = replicas if replicas is not None else (len(gpus) or 2)
    if gpus:
        if count > len(gpus):
            raise UsageError(f"{count} replicas asked for, and this machine has {len(gpus)} GPU(s)", hint=f"Pass `replicas` of at most {len(gpus)}.")
        devices = [f"/gpu:{i}" for i in range(count)]
        reduction = tf.distribute.HierarchicalCopyAllReduce()
    else:
        configure_replicas(count)
        devices = [f"/cpu:{i}" for i in range(count)]
        reduction = tf.distribute.ReductionToOneDevice()
    made = tf.distribute.MirroredStrategy(devices, cross_device_ops=reduction)
    return Topology(made, mf.Distribution(strategy=strategy, replicas=count, cross_device_ops=type(reduction).__name__, devices="gpu" if gpus else "cpu"))


def _multiworker() -> Topology:
    """MultiWorkerMirroredStrategy over ``TF_CONFIG``'s cluster, ring all-reduce, with a
    bounded wait on the other workers."""
    cluster, task = _tf_config()
    from zoo.tf import tf

    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING, timeout_seconds=collective_timeout())
    made = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    _reduce_each_value(made)
    chief = task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster)
    devices = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return Topology(made, mf.Distribution(strategy="multiworker", replicas=int(made.num_replicas_in_sync), cross_device_ops="RingAllReduce", devices=devices), chief)


def _reduce_each_value(strategy: Any) -> None:
    """Two calls Keras 3.15's ``fit`` makes on a multi-worker strategy that
    ``MultiWorkerMirroredStrategy.reduce`` refuses, answered as Keras means them:

    * the first batch, an ``(x, y)`` nest, reduced to build the model symbolically (the
      strategy takes one value at a time: "Attempt to convert a value (PerReplica…)"):
      each value is reduced alone;
    * each scalar metric, its mean asked along axis 0 ("Invalid reduction dimension 0 for
      input with 0 dimensions"): the mean across replicas, what Keras computes on one worker."""
    one_value = strategy.reduce

    def reduce(reduce_op: Any, value: Any, axis: Any = None) -> Any:
        if isinstance(value, (tuple, list)):
            return type(value)(reduce(reduce_op, v, axis) for v in value)
        if isinstance(value, dict):
            return {k: reduce(reduce_op, v, axis) for k, v in value.items()}
        if axis is not None and all(getattr(t, "shape", None) is not None and t.shape.rank == 0 for t in strategy.experimental_local_results(value)):
            axis = None
        return one_value(reduce_op, value, axis)

    strategy.reduce = reduce


def _tf_config() -> tuple[dict, dict]:
    """``TF_CONFIG``'s cluster and this process's task, checked before TensorFlow reads them."""
    text = os.environ.get("TF_CONFIG")
    hint = 'Set TF_CONFIG on every worker, e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}}.'
    if not text:
        raise DistributedError("a multi-worker run needs TF_CONFIG, which names the cluster and this worker's place in it", hint=hint)
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        workers = [*cluster.get("chief", []), *cluster.get("worker", [])]
        ok = (isinstance(workers, list) and workers and all(isinstance(w, str) and ":" in w for w in workers)
              and task.get("type") in cluster and isinstance(task.get("index"), int) and 0 <= task["index"] < len(cluster[task["type"]]))
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise DistributedError(f"TF_CONFIG is not a cluster and a task in it: {text[:200]!r}", hint=hint)
    return cluster, task


def lost_worker(exc: BaseException) -> DistributedError:
    """TensorFlow's error when a worker stopped answering, as the run's own error."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return DistributedError(f"the multi-worker run stopped: another worker did not answer ({type(exc).__name__}: {first})",
                            hint="Every epoch recorded so far is kept: start every worker again with `resume=True` (the same TF_CONFIG).")


def configure_replicas(replicas: int) -> None:
    """Split the CPU into ``replicas`` logical devices; TensorFlow allows it only before it
    initialises them (its first op), so afterwards only the same split is accepted."""
    from zoo.tf import tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == replicas:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        raise UsageError(
            f"TensorFlow in this process already set up {have} CPU device(s); {replicas} replicas need {replicas}, and it splits its CPU only before its first use",
            hint="Call zoo.train(..., strategy='mirrored', replicas=N) before anything else in the process uses TensorFlow, or run `zoo train` from the shell.",
        ) from None


def differs(recorded: mf.Distribution | None, now: mf.Distribution | None) -> str | None:
    """How a resumed run's topology differs from the recorded one, in words (None: the same)."""
    if recorded == now:
        return None
    return f"the run was trained {_words(recorded)} and resumes {_words(now)}: its bytes will differ from a run kept {_words(recorded)}"


def _words(d: mf.Distribution | None) -> str:
    return "on one device" if d is None else f"{d.strategy} over {d.replicas} {d.devices.upper()} replica(s)"
