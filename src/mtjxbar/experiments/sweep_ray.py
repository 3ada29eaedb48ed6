"""Sweep runs on Ray: a local Ray instance, or an existing cluster (``address``).

Imported only when a sweep runs on Ray, so mtjxbar works without Ray installed (it comes with the ``sweep``
extra: ``pip install 'mtjxbar[sweep]'``). Each run is a Ray task of
one CPU that returns its results record; the driver stores it (workers need not share a file system with
the driver, but every node needs mtjxbar installed and the data set at the same path).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

from .sweep_config import Task

__all__ = ["ray_results"]


def import_ray():
    try:
        import ray
    except ImportError:
        from .sweep import SweepError

        raise SweepError("Ray is not installed here: install mtjxbar's sweep extra, pip install 'mtjxbar[sweep]' "
                         "(or run the sweep in this process with --local)") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast, with a clear message, when a ``host:port`` (or ``ray://host:port``) address does not answer
    (Ray itself would retry for minutes); ``auto`` and other forms are left to Ray."""
    from .sweep import SweepError

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout).close()
    except OSError as err:
        raise SweepError(f"--address {address}: no Ray cluster answers there ({err.strerror or err}); start one "
                         "with `ray start --head`, or drop --address for a local Ray instance") from None


def ray_results(tasks: list[Task], threads: int, *, address: str | None = None,
                workers: int | None = None) -> Iterator[tuple[Task, dict]]:
    """Run ``tasks`` on Ray, at most ``workers`` at a time (default: the cluster's CPUs); yield each task and
    its results record as it finishes. Ray is shut down (or disconnected from) when the iteration ends."""
    ray = import_ray()
    from .sweep import SweepError, run_task

    if address:
        check_reachable(address)
    kwargs = {"address": address} if address else {"num_cpus": workers}
    try:
        ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise SweepError(f"cannot start or join Ray{f' at {address}' if address else ''}: {err}") from None
    try:
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
        queue = list(reversed(tasks))
        running: dict = {}
        while queue or running:
            while queue and len(running) < limit:
                task = queue.pop()
                running[remote.remote(task.config, threads)] = task
            (ref,), _ = ray.wait(list(running), num_returns=1)
            task = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None) or err
                raise SweepError(f"{task.label()}: {cause}") from None
            yield task, result
    finally:
        ray.shutdown()
