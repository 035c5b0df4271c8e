"""Joining a Ray cluster, or starting a local Ray instance, for a scaled-out run."""

from __future__ import annotations

import socket
from importlib import metadata

from ..errors import ConfigError

INSTALL = "pip install 'headlens[ray]'  (or: pip install 'ray[data]>=2.40,<3')"
REACH_TIMEOUT_S = 10.0  # how long an address may take to answer before the run gives up


def require_ray():
    """The ``ray`` module with Ray Data, or a ConfigError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"--engine ray needs Ray (with Ray Data), which is not installed ({e}). Install it with: {INSTALL}; "
                          "or run without --engine ray (the local engine).") from e
    return ray


def ray_version() -> str | None:
    try:
        return metadata.version("ray")
    except metadata.PackageNotFoundError:
        return None


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address {address!r} is not a Ray address: give 'auto' (the cluster this machine is a node of), "
                          "ray://HEAD:10001 (Ray Client) or HEAD:6379 (the head's GCS port).")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Fail within ``timeout`` seconds, naming the address, when nothing listens there (``ray.init``
    itself would keep retrying for minutes)."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise ConfigError(f"cannot reach the Ray cluster at --address {address} ({host}:{port}: "
                          f"{e.strerror or type(e).__name__}). Check the address and that the cluster is up "
                          "(`ray status` on its head node), or drop --address to start a local Ray instance.") from None


class Cluster:
    """A connection to a Ray cluster; ``close()`` shuts down only an instance this run started."""

    def __init__(self, address: str | None):
        ray = require_ray()
        self.ray, self.address, self.started = ray, address, False
        if ray.is_initialized():  # joined already (a notebook, a test's in-process instance): used as it is
            return
        if address and address != "auto":
            check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, TimeoutError) as e:
            where = "this machine's cluster (--address auto)" if address == "auto" else f"--address {address}"
            raise ConfigError(f"cannot join the Ray cluster at {where}: {e}. Start one with `ray start --head`, "
                              "check the address, or drop --address to start a local Ray instance.") from None
        self.started = True

    def describe(self) -> dict:
        """What the manifest records of the cluster: the address, its resources, the Ray version."""
        resources = self.ray.cluster_resources()
        return {"address": self.address or "local", "ray": ray_version(),
                "cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0), "nodes": len(self.ray.nodes())}

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False
