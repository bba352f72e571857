"""The containerized deployment, built and run: docker-compose.yml started with podman-compose
from the images `scripts/container-images` builds, driven through its published port only.

Skipped unless SPARSECODING_CONTAINER_TEST=1: `scripts/compose-test` (a step of .ci/run of its
own) builds the images, installs podman-compose and runs this module. It starts the API, the
scheduler and two CPU workers on the compose project's own network, with the API published on
127.0.0.1 alone, and sends its requests there; it fits one local and one data-parallel job,
kills the container of a worker while both run, and checks that both jobs end with the
dictionary `solvers.fit` gives; then `stop api`, `down` and `up` with a job running (the
documented upgrade): the volume keeps the models and the job resumes. The GPU image is checked
for a CuPy of CUDA 12 (it cannot run here: no GPU). Everything of the project (containers,
network, volume) is removed at the end and before the start; the images are kept.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from compose_project import (
    DONE,
    GPU_IMAGE,
    IMAGE,
    N_WORKERS,
    PODMAN,
    PROJECT,
    Deployment,
    get_job,
    model_dictionary,
    npy_bytes,
    podman,
    started_at,
    submit_job,
    upload_npy,
    wait_for_jobs,
)

pytestmark = pytest.mark.skipif(
    os.environ.get("SPARSECODING_CONTAINER_TEST") != "1",
    reason="the container test runs in scripts/compose-test (SPARSECODING_CONTAINER_TEST=1)",
)


# The two fits, each long enough (tens of seconds here) that the kill lands mid-run: the
# local one is tests/cluster's LONG with more epochs (online mode, the defaults), the
# data-parallel one a batch fit whose every iteration is a round of chunk tasks on both
# workers.
LOCAL = {"n_components": 16, "alpha": 0.2, "max_iter": 4000, "tol": 0.0, "random_state": 0}
PARALLEL = {"n_components": 8, "alpha": 0.1, "max_iter": 1000, "tol": 0.0, "random_state": 0,
            "mode": "batch", "code_solver": "cd"}  # fmt: skip
# How close each job's dictionary must be to solvers.fit's, as the library's own tests have
# it: a fit resumed from its checkpoint is the uninterrupted one to rtol 1e-10 / atol 1e-12
# (tests/solvers, test_checkpoint_resume_gives_the_uninterrupted_answer), and a data-parallel
# fit, with a worker killed or not, the in-process one to atol 1e-10, the order of its
# floating-point sums (tests/cluster/test_dask_executor.py, SAME).
RESUMED = {"rtol": 1e-10, "atol": 1e-12}
SAME = {"rtol": 0.0, "atol": 1e-10}

# Run in a container: solvers.fit of X (a .npy on stdin) with each of the options given, and
# the results as an .npz on stdout.
REFERENCE = """
import io, json, sys
import numpy as np
import solvers
X = np.load(io.BytesIO(sys.stdin.buffer.read()))
out = {}
for name, options in json.loads(sys.argv[1]).items():
    fit = solvers.fit(X, **options)
    out |= {name: fit.dictionary, f"{name}_n_iter": fit.n_iter, f"{name}_objective": fit.objective}
buffer = io.BytesIO()
np.savez(buffer, **out)
sys.stdout.buffer.write(buffer.getvalue())
"""
# Run in the GPU image: what CuPy was built for and finds, as one line of JSON.
CUPY_PROBE = """
import json
import cupy, cupy.cuda as c
import solvers
names = ("cublas", "cusolver", "cusparse", "curand", "cufft")  # each loads its library
print(json.dumps({
    "cupy": cupy.__version__, "runtime": c.runtime.runtimeGetVersion(),
    "nvrtc": c.nvrtc.getVersion(), "libraries": [getattr(c, n).__name__ for n in names],
    "available": cupy.is_available(), "backends": solvers.available_backends(),
}))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path_factory.mktemp("compose"))
    deployment.down("-v")  # what a run stopped before its own clean-up may have left
    volumes_before = set(podman("volume", "ls", "-q").split())
    started = time.monotonic()
    deployment.up()
    print(f"\ncompose up → ready with {N_WORKERS} workers: {time.monotonic() - started:.1f} s")
    try:
        yield deployment
    finally:
        deployment.down("-v")
        assert not deployment.containers()
        mine = f"label=io.podman.compose.project={PROJECT}"
        left = [
            podman(kind, "ls", "-q", "--filter", mine).split() for kind in ("volume", "network")
        ]
        assert left == [[], []], f"volumes and networks left: {left}"
        anonymous = set(podman("volume", "ls", "-q").split()) - volumes_before
        assert not anonymous, f"volumes left: {anonymous}"


@pytest.fixture(scope="module")
def api(deployment: Deployment) -> Iterator[httpx.Client]:
    with deployment.api() as client:
        yield client


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """tests/cluster's X (2000, 16) = H W + noise: 8 unit-norm atoms, sparse H, float64."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((8, 16))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    H = rng.standard_normal((2000, 8)) * (rng.random((2000, 8)) < 0.3)
    return H @ W + 0.05 * rng.standard_normal((2000, 16))


def _exists_in_api(deployment: Deployment, path: str) -> bool:
    (api,) = deployment.containers("api")
    done = subprocess.run([PODMAN, "exec", api["Name"], "test", "-e", path], timeout=30)
    return done.returncode == 0


# -- the deployment as started ----------------------------------------------------------------


def test_a_fresh_deployments_first_job_starts_at_once(
    deployment: Deployment, api: httpx.Client, data: np.ndarray
) -> None:
    """The kernels come compiled in the image: the first job of containers just started
    never waits for numba (its phase is never `compiling`). How long it took is printed."""
    started = max(started_at(c) for c in deployment.containers())
    submitted = time.time()
    small = {"n_components": 8, "alpha": 0.3, "max_iter": 5, "random_state": 0}
    job_id = submit_job(api, dataset_id=upload_npy(api, data), **small)
    seen: list[list[dict[str, Any]]] = []
    wait_for_jobs(
        api, [job_id], lambda j: bool(j[0]["progress"]) or j[0]["state"] in DONE, seen=seen
    )
    first_progress = time.time()
    (done,) = wait_for_jobs(api, [job_id], lambda j: j[0]["state"] in DONE, seen=seen)
    assert done["state"] == "succeeded", done
    phases = {job.get("phase") for jobs in seen for job in jobs}
    assert "compiling" not in phases, phases
    print(f"\nlast container start → ready {deployment.ready_at - started:.1f} s, → first "
          f"progress of the first job {first_progress - started:.1f} s (upload and submission "
          f"→ first progress {first_progress - submitted:.1f} s)")  # fmt: skip


def test_only_the_api_is_published_and_only_on_loopback(deployment: Deployment) -> None:
    containers = deployment.containers()
    services = sorted(c["Config"]["Labels"]["com.docker.compose.service"] for c in containers)
    assert services == ["api", "scheduler", "worker", "worker"]
    for container in containers:
        service = container["Config"]["Labels"]["com.docker.compose.service"]
        bindings = {  # exposed ports (the scheduler's) bind to nothing
            port: [(b["HostIp"], b["HostPort"]) for b in published]
            for port, published in (container["HostConfig"]["PortBindings"] or {}).items()
            if published
        }
        if service == "api":
            assert bindings == {"8000/tcp": [("127.0.0.1", str(deployment.port))]}
        else:
            assert not any(bindings.values()), (service, bindings)
        assert list(container["NetworkSettings"]["Networks"]) == [f"{PROJECT}_default"]


def test_containers_run_as_their_user_with_the_kernels_in_the_image(
    deployment: Deployment,
) -> None:
    image = json.loads(podman("image", "inspect", IMAGE))[0]
    assert image["Config"]["User"] == "sparsecoding"
    assert image["Healthcheck"]["Test"][0] == "CMD", image["Healthcheck"]
    assert "HEALTHCHECK_URL=http://127.0.0.1:8000/healthz" in image["Config"]["Env"]
    # podman runs no health check by itself without systemd: each is run here once, the
    # compose file's own (the scheduler's, the workers', the API's)
    for container in deployment.containers():
        podman("healthcheck", "run", container["Name"])
    probe = "import os, solvers; print(os.getuid(), solvers.kernels_cached())"
    for container in deployment.containers():
        out = podman("exec", container["Name"], "python3", "-c", probe).split()
        assert out[0] != "0" and out[1] == "True", (container["Name"], out)
        writable = podman("exec", container["Name"], "sh", "-c", "test -w /app/solvers; echo $?")
        assert writable.strip() != "0", f"{container['Name']}: the code is writable"


def test_metrics_are_the_operators(deployment: Deployment) -> None:
    def metrics(key: str) -> httpx.Response:
        return httpx.get(f"{deployment.url}/metrics", headers={"Authorization": f"Bearer {key}"})

    r = metrics(deployment.metrics_key)
    assert r.status_code == 200 and "sparsecoding_jobs" in r.text, r.text[:500]
    assert metrics(deployment.key).status_code == 401  # a tenant's key is not the operator's


# -- a worker killed mid-fit ------------------------------------------------------------------


@pytest.fixture(scope="module")
def killed_run(deployment: Deployment, api: httpx.Client, data: np.ndarray) -> dict[str, Any]:
    """A local and a data-parallel job, both running; the container of the local job's
    worker killed (SIGKILL) once both have checkpointed; then their ends."""
    dataset = upload_npy(api, data)
    ids = [
        submit_job(api, dataset_id=dataset, execution="local", **LOCAL),
        submit_job(api, dataset_id=dataset, execution="data_parallel", **PARALLEL),
    ]
    checkpoints = [f"/data/checkpoints/{ids[0]}.npz", f"/data/checkpoints/{ids[1]}-parallel.npz"]

    def mid_run(jobs: list[dict[str, Any]]) -> bool:
        return all(
            j["state"] == "running" and j["progress"] and j["progress"]["iteration"] >= 3
            for j in jobs
        ) and all(_exists_in_api(deployment, path) for path in checkpoints)

    running = wait_for_jobs(
        api, ids, lambda jobs: mid_run(jobs) or any(j["state"] in DONE for j in jobs)
    )
    assert all(j["state"] == "running" for j in running), f"not caught mid-run: {running}"
    ip = running[0]["worker"].removeprefix("tcp://").rsplit(":", 1)[0]
    workers = deployment.containers("worker")
    (victim,) = [
        c["Name"] for c in workers
        if ip in (n["IPAddress"] for n in c["NetworkSettings"]["Networks"].values())
    ]  # fmt: skip
    podman("kill", "--signal", "KILL", victim)
    done = wait_for_jobs(api, ids, lambda jobs: all(j["state"] in DONE for j in jobs), timeout=420)
    return {"ids": ids, "running": running, "done": done, "victim": victim}


@pytest.fixture(scope="module")
def references(data: np.ndarray) -> dict[str, np.ndarray]:
    """solvers.fit's dictionaries, iteration counts and objectives of the two fits, computed
    in a container of the same image (its NumPy, SciPy and numba builds, its compiled
    kernels: the host's venv may hold other versions), with no network."""
    argv = [PODMAN, "run", "--rm", "-i", "--network", "none", "--no-healthcheck", IMAGE]
    argv += ["python3", "-c", REFERENCE, json.dumps({"local": LOCAL, "parallel": PARALLEL})]
    done = subprocess.run(argv, input=npy_bytes(data), capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    with np.load(io.BytesIO(done.stdout)) as arrays:
        return {name: arrays[name] for name in arrays.files}


def test_a_killed_worker_loses_neither_job(
    api: httpx.Client, killed_run: dict[str, Any], references: dict[str, np.ndarray]
) -> None:
    local, parallel = killed_run["done"]
    before = killed_run["running"]
    assert local["state"] == parallel["state"] == "succeeded", (local, parallel)
    for name, job, running in (("local", local, before[0]), ("parallel", parallel, before[1])):
        assert running["progress"]["iteration"] < job["n_iter"], "killed after its end"
        assert job["n_iter"] == references[f"{name}_n_iter"], (name, job)
        # the objective as tests/cluster compares a service's jobs with solvers.fit
        assert job["objective"] == pytest.approx(references[f"{name}_objective"], rel=1e-9)
    # the local job ran again elsewhere (or on the killed container, restarted)
    assert local["attempts"] >= 2 or local["worker"] != before[0]["worker"], (before[0], local)
    np.testing.assert_allclose(
        model_dictionary(api, local["model_id"]), references["local"], **RESUMED
    )
    np.testing.assert_allclose(
        model_dictionary(api, parallel["model_id"]), references["parallel"], **SAME
    )
    print(f"\nkilled {killed_run['victim']} at iterations "
          f"{[j['progress']['iteration'] for j in before]}; attempts after: "
          f"{[j['attempts'] for j in killed_run['done']]}")  # fmt: skip


def test_down_and_up_keep_the_models_and_the_running_job(
    deployment: Deployment,
    api: httpx.Client,
    killed_run: dict[str, Any],
    references: dict[str, np.ndarray],
) -> None:
    """docs/deployment.md's upgrade, on the same images: a job running, `stop api` (its run
    checkpoints and goes back to the queue), `down`, `up`. The volume keeps the models, and
    the job resumes and ends as solvers.fit does."""
    models = {j["model_id"]: model_dictionary(api, j["model_id"]) for j in killed_run["done"]}
    job_id = submit_job(api, dataset_id=killed_run["done"][0]["dataset_id"], **LOCAL)
    checkpoint = f"/data/checkpoints/{job_id}.npz"

    def checkpointed(jobs: list[dict[str, Any]]) -> bool:
        (job,) = jobs
        running = job["state"] == "running" and bool(job["progress"])
        return job["state"] in DONE or (running and _exists_in_api(deployment, checkpoint))

    (running,) = wait_for_jobs(api, [job_id], checkpointed)
    assert running["state"] == "running", f"not caught mid-run: {running}"
    deployment.compose("stop", "api")
    deployment.down()
    assert not deployment.containers()
    deployment.up()
    (done,) = wait_for_jobs(api, [job_id], lambda j: j[0]["state"] in DONE, timeout=420)
    assert done["state"] == "succeeded", done
    np.testing.assert_allclose(
        model_dictionary(api, done["model_id"]), references["local"], **RESUMED
    )
    for job_id in killed_run["ids"]:
        assert get_job(api, job_id)["state"] == "succeeded"
    for model_id, dictionary in models.items():
        np.testing.assert_array_equal(model_dictionary(api, model_id), dictionary)
    print(f"\nthe job running across down and up: attempts {done['attempts']}")


# -- the GPU image ----------------------------------------------------------------------------


def test_the_gpu_image_has_cupy_for_cuda_12() -> None:
    """CuPy's wheel for CUDA 12 and the CUDA 12 libraries it loads; no GPU here, so CuPy says
    it has no device and the worker offers the numpy backend alone."""
    config = json.loads(podman("image", "inspect", GPU_IMAGE))[0]["Config"]
    assert config["User"] == "sparsecoding"
    command = config["Cmd"]
    assert command[:2] == ["dask", "worker"]
    assert command[command.index("--resources") + 1] == "GPU=1"
    run = ["run", "--rm", "--network", "none", "--no-healthcheck", GPU_IMAGE]
    out = podman(*run, "python3", "-c", CUPY_PROBE)
    found = json.loads(out.strip().splitlines()[-1])
    print(f"\n{GPU_IMAGE}: {found}")
    assert found["runtime"] // 1000 == 12 and found["nvrtc"][0] == 12, found
    assert len(found["libraries"]) == 5 and found["available"] is False
    cupy = next(b for b in found["backends"] if b["name"] == "cupy")
    assert cupy["available"] is False and cupy["reason"], cupy
