"""A search on a 2-node Ray cluster that loses its worker node.

`ray.cluster_utils.Cluster` starts a head node and a worker node on this machine (1 CPU each); the real
`nars.search` CLI joins it with `--address` and runs 6 trials of `search_trials.paired_toy_trial` (3 one-second
epochs, a checkpoint per epoch) two at a time, the first two side by side, so trials land on both nodes. Once a trial on
the worker node has started its epoch 2 (the trial logs it, and by then the driver holds its epoch-1 checkpoint: see
`search_trials.toy_trial`), the node is killed (its processes get SIGKILL). With `search.max_failures=1` Ray
reschedules that trial on the head node from its last checkpoint, and the search finishes with every trial `ok`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from ray._common.utils import reset_ray_address
from ray.cluster_utils import Cluster

from helpers.search_trials import ENV, read_events, search_command
from helpers.tiny import REPO

EPOCHS = 3
SETTINGS = ["search.max_concurrent=2", "search.max_failures=1", f"search.proxy_epochs={EPOCHS}",
            "data.synthetic={num_train: 2, num_val: 1, image_size: [96, 128]}"]
TIMEOUT_S = 400


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """Head and one worker node, 1 CPU each; their workers inherit this environment (they import `search_trials`)."""
    for name in ("PYTHONPATH", "OMP_WAIT_POLICY", "OMP_NUM_THREADS"):
        monkeypatch.setenv(name, ENV[name])
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    # Cluster records itself as this machine's current Ray (/tmp/ray/ray_current_cluster), which a bare ray.init()
    # elsewhere on the machine would join: forget it, the search is given the address explicitly
    reset_ray_address()
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def _driver_env() -> dict[str, str]:
    """The search's environment with this process's Ray settings: a local `ray.init` earlier in the test session turns
    token authentication on for this process (Ray 2.60 sets RAY_AUTH_MODE=token), so the cluster started here asks for
    the token, and the driver must know to send it."""
    return {**ENV, **{k: v for k, v in os.environ.items() if k.startswith("RAY_AUTH")}}


def test_search_runs_on_both_nodes_and_survives_losing_the_worker_node(cluster: Cluster, tmp_path: Path) -> None:
    started = time.perf_counter()
    head, worker = cluster.head_node.node_id, next(iter(cluster.worker_nodes))
    output = tmp_path / "search"
    log = tmp_path / "search.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(search_command("paired_toy", output, SETTINGS, "--address", cluster.address), cwd=REPO, env=_driver_env(),
                                stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        lost: str | None = None
        removed_at = 0.0
        while time.monotonic() < deadline and proc.poll() is None:
            on_worker = [e for e in read_events(output) if e["node"] == worker.node_id and e["event"] == "training" and e["epoch"] == 2]
            if on_worker:  # a trial on the worker node is in epoch 2, and the driver holds its epoch-1 checkpoint: kill the node
                lost = on_worker[0]["trial_id"]
                removed_at = time.time()
                cluster.remove_node(worker, allow_graceful=False)
                break
            time.sleep(0.1)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert lost is not None, "no trial ran on the worker node"

    events = read_events(output)
    assert {e["node"] for e in events} == {head, worker.node_id}, "trials ran on both nodes"
    assert not [e for e in events if e["node"] == worker.node_id and e["event"] == "start" and e["time"] > removed_at]
    # the trial's worker process may still report the epoch it was in while the node goes down
    restarts = [(e["node"], e["epoch"]) for e in events if e["trial_id"] == lost and e["event"] == "start"]
    assert restarts[0] == (worker.node_id, 1) and len(restarts) == 2, restarts
    assert restarts[1][0] == head and restarts[1][1] > 1, "the lost trial was rescheduled on the head node from its checkpoint"

    trials = pd.read_csv(output / "trials.csv")
    assert len(trials) == 6 and set(trials["status"]) == {"ok"} and set(trials["epochs"]) == {EPOCHS}
    assert (output / "best_recipe.yaml").is_file()
    per_node = pd.DataFrame(events).query("event == 'start'").groupby("node")["trial_id"].nunique()
    print(f"\ncluster: trials started per node {{head: {per_node[head]}, worker: {per_node[worker.node_id]}}}, "
          f"rescheduled after the node loss: {lost} (resumed at epoch {restarts[1][1]} on the head); {time.perf_counter() - started:.0f} s")


def test_a_search_without_address_starts_its_own_ray_even_beside_a_cluster() -> None:
    """Without `--address` the search starts a local Ray: it must not join a cluster that this machine advertises
    (RAY_ADDRESS, or the address file of `ray start`), which would also refuse its `num_cpus`."""
    script = "import ray; from nars.tune.runner import init_ray; init_ray(None); print(len(ray.nodes()), ray.cluster_resources()['CPU'])"
    env = {**ENV, "RAY_ADDRESS": "127.0.0.1:1"}  # nothing listens there: joining it would fail
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["1", f"{float(os.cpu_count() or 1)}"]
