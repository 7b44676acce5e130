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
"""

from __future__ import annotations

from typing import Any

from zoo.errors import UsageError
from zoo.formats import manifest as mf

STRATEGIES = ("mirrored",)


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


def make(strategy: str | None, replicas: int | None) -> tuple[Any, mf.Distribution | None]:
    """The ``tf.distribute`` strategy to build, compile and fit under, and its record for
    the manifest; ``(None, None)`` for a run on the default device."""
    check(strategy, replicas)
    if strategy is None:
        return None, None
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
    return made, mf.Distribution(strategy=strategy, replicas=count, cross_device_ops=type(reduction).__name__, devices="gpu" if gpus else "cpu")


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
