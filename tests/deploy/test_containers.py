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

import datetime as dt
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("SPARSECODING_CONTAINER_TEST") != "1",
    reason="the container test runs in scripts/compose-test (SPARSECODING_CONTAINER_TEST=1)",
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "sparsecoding-e2e"
IMAGE = os.environ.get("SPARSECODING_IMAGE", "localhost/sparsecoding:latest")
GPU_IMAGE = os.environ.get("SPARSECODING_GPU_IMAGE", "localhost/sparsecoding-gpu:latest")
PODMAN = os.environ.get("PODMAN", "podman")
NPY = "application/x-npy"
DONE = {"succeeded", "failed", "cancelled"}
N_WORKERS = 2  # docker-compose.yml's replicas of `worker`

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


def _run(*argv: str, timeout: float = 300, check: bool = True, **kw: Any) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def _podman(*argv: str, **kw: Any) -> str:
    return _run(PODMAN, *argv, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _started_at(inspect: dict[str, Any]) -> float:
    """A container's start as a Unix time, from podman's `2026-12-01T18:07:57.65260511Z`."""
    text = inspect["State"]["StartedAt"]
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    assert found, text
    stamp = dt.datetime.fromisoformat(found[1]).replace(tzinfo=dt.UTC)
    return stamp.timestamp() + float(found[2] or 0)


class Deployment:
    """The compose project: podman-compose on docker-compose.yml, and its API on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.key = secrets.token_urlsafe(32)
        self.metrics_key = secrets.token_urlsafe(32)
        self.port = _free_port()
        # What an operator's .env holds; given explicitly, so that one in the checkout is not
        # read (compose reads .env beside the compose file).
        self.env_file = workdir / "compose.env"
        self.env_file.write_text(
            f"SPARSECODING_API_KEYS=e2e:{self.key}\n"
            f"SPARSECODING_METRICS_KEY={self.metrics_key}\n"
            f"SPARSECODING_BIND=127.0.0.1\nSPARSECODING_PORT={self.port}\n"
            f"SPARSECODING_IMAGE={IMAGE}\n"
        )
        self.env_file.chmod(0o600)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_at = 0.0  # when /readyz last said ready (Unix time)
        compose = os.environ.get("PODMAN_COMPOSE") or shutil.which("podman-compose")
        assert compose, "podman-compose is not installed (scripts/compose-test installs it)"
        self.compose_command = [compose, "--env-file", str(self.env_file), "-p", PROJECT]
        self.compose_command += ["-f", str(ROOT / "docker-compose.yml")]

    def compose(self, *argv: str, timeout: float = 300) -> str:
        return _run(*self.compose_command, *argv, timeout=timeout, cwd=ROOT)

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        """`podman inspect` of the project's containers (of one service), by name."""
        labels = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service is not None:
            labels += ["--filter", f"label=com.docker.compose.service={service}"]
        names = _podman("ps", "-a", *labels, "--format", "{{.Names}}").split()
        if not names:
            return []
        return sorted(json.loads(_podman("inspect", *names)), key=lambda c: c["Name"])

    def up(self) -> None:
        self.compose("up", "-d")
        self.wait_ready()

    def wait_ready(self, timeout: float = 180) -> dict[str, Any]:
        """/readyz once it says ready with every worker connected."""
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                last = r.text
                body = r.json()
                if r.status_code == 200 and body.get("workers") == N_WORKERS:
                    self.ready_at = time.time()
                    return dict(body)
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        logs = {
            c["Name"]: _podman("logs", "--tail", "20", c["Name"], check=False)
            for c in self.containers()
        }
        raise TimeoutError(f"not ready after {timeout} s: {last}\n{json.dumps(logs, indent=1)}")

    def down(self, *argv: str) -> None:
        self.compose("down", *argv)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path_factory.mktemp("compose"))
    deployment.down("-v")  # what a run stopped before its own clean-up may have left
    volumes_before = set(_podman("volume", "ls", "-q").split())
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
            _podman(kind, "ls", "-q", "--filter", mine).split() for kind in ("volume", "network")
        ]
        assert left == [[], []], f"volumes and networks left: {left}"
        anonymous = set(_podman("volume", "ls", "-q").split()) - volumes_before
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


def _job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait(
    api: httpx.Client,
    ids: list[str],
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 300,
    seen: list[list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [_job(api, i) for i in ids]
        if seen is not None:
            seen.append(jobs)
        if until(jobs):
            return jobs
        time.sleep(0.1)
    raise TimeoutError(f"jobs not there after {timeout} s: {[_job(api, i) for i in ids]}")


def _upload(api: httpx.Client, X: np.ndarray) -> str:
    r = api.post("/v1/datasets", content=_npy(X), headers={"Content-Type": NPY})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _submit(api: httpx.Client, **spec: Any) -> str:
    r = api.post("/v1/jobs", json=spec)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _dictionary(api: httpx.Client, model_id: str) -> np.ndarray:
    r = api.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content), allow_pickle=False)


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
    started = max(_started_at(c) for c in deployment.containers())
    submitted = time.time()
    job_id = _submit(api, dataset_id=_upload(api, data), n_components=8, alpha=0.3, max_iter=5,
                     random_state=0)  # fmt: skip
    seen: list[list[dict[str, Any]]] = []
    _wait(api, [job_id], lambda j: bool(j[0]["progress"]) or j[0]["state"] in DONE, seen=seen)
    first_progress = time.time()
    (done,) = _wait(api, [job_id], lambda j: j[0]["state"] in DONE, seen=seen)
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
    image = json.loads(_podman("image", "inspect", IMAGE))[0]
    assert image["Config"]["User"] == "sparsecoding"
    assert image["Healthcheck"]["Test"][0] == "CMD", image["Healthcheck"]
    assert "HEALTHCHECK_URL=http://127.0.0.1:8000/healthz" in image["Config"]["Env"]
    # podman runs no health check by itself without systemd: each is run here once, the
    # compose file's own (the scheduler's, the workers', the API's)
    for container in deployment.containers():
        _podman("healthcheck", "run", container["Name"])
    probe = "import os, solvers; print(os.getuid(), solvers.kernels_cached())"
    for container in deployment.containers():
        out = _podman("exec", container["Name"], "python3", "-c", probe).split()
        assert out[0] != "0" and out[1] == "True", (container["Name"], out)
        writable = _podman("exec", container["Name"], "sh", "-c", "test -w /app/solvers; echo $?")
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
    dataset = _upload(api, data)
    ids = [
        _submit(api, dataset_id=dataset, execution="local", **LOCAL),
        _submit(api, dataset_id=dataset, execution="data_parallel", **PARALLEL),
    ]
    checkpoints = [f"/data/checkpoints/{ids[0]}.npz", f"/data/checkpoints/{ids[1]}-parallel.npz"]

    def mid_run(jobs: list[dict[str, Any]]) -> bool:
        return all(
            j["state"] == "running" and j["progress"] and j["progress"]["iteration"] >= 3
            for j in jobs
        ) and all(_exists_in_api(deployment, path) for path in checkpoints)

    running = _wait(api, ids, lambda jobs: mid_run(jobs) or any(j["state"] in DONE for j in jobs))
    assert all(j["state"] == "running" for j in running), f"not caught mid-run: {running}"
    ip = running[0]["worker"].removeprefix("tcp://").rsplit(":", 1)[0]
    workers = deployment.containers("worker")
    (victim,) = [
        c["Name"] for c in workers
        if ip in (n["IPAddress"] for n in c["NetworkSettings"]["Networks"].values())
    ]  # fmt: skip
    _podman("kill", "--signal", "KILL", victim)
    done = _wait(api, ids, lambda jobs: all(j["state"] in DONE for j in jobs), timeout=420)
    return {"ids": ids, "running": running, "done": done, "victim": victim}


@pytest.fixture(scope="module")
def references(data: np.ndarray) -> dict[str, np.ndarray]:
    """solvers.fit's dictionaries, iteration counts and objectives of the two fits, computed
    in a container of the same image (its NumPy, SciPy and numba builds, its compiled
    kernels: the host's venv may hold other versions), with no network."""
    argv = [PODMAN, "run", "--rm", "-i", "--network", "none", "--no-healthcheck", IMAGE]
    argv += ["python3", "-c", REFERENCE, json.dumps({"local": LOCAL, "parallel": PARALLEL})]
    done = subprocess.run(argv, input=_npy(data), capture_output=True, timeout=600)
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
    np.testing.assert_allclose(_dictionary(api, local["model_id"]), references["local"], **RESUMED)
    np.testing.assert_allclose(
        _dictionary(api, parallel["model_id"]), references["parallel"], **SAME
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
    models = {j["model_id"]: _dictionary(api, j["model_id"]) for j in killed_run["done"]}
    job_id = _submit(api, dataset_id=killed_run["done"][0]["dataset_id"], **LOCAL)
    checkpoint = f"/data/checkpoints/{job_id}.npz"

    def checkpointed(jobs: list[dict[str, Any]]) -> bool:
        (job,) = jobs
        running = job["state"] == "running" and bool(job["progress"])
        return job["state"] in DONE or (running and _exists_in_api(deployment, checkpoint))

    (running,) = _wait(api, [job_id], checkpointed)
    assert running["state"] == "running", f"not caught mid-run: {running}"
    deployment.compose("stop", "api")
    deployment.down()
    assert not deployment.containers()
    deployment.up()
    (done,) = _wait(api, [job_id], lambda j: j[0]["state"] in DONE, timeout=420)
    assert done["state"] == "succeeded", done
    np.testing.assert_allclose(_dictionary(api, done["model_id"]), references["local"], **RESUMED)
    for job_id in killed_run["ids"]:
        assert _job(api, job_id)["state"] == "succeeded"
    for model_id, dictionary in models.items():
        np.testing.assert_array_equal(_dictionary(api, model_id), dictionary)
    print(f"\nthe job running across down and up: attempts {done['attempts']}")


# -- the GPU image ----------------------------------------------------------------------------


def test_the_gpu_image_has_cupy_for_cuda_12() -> None:
    """CuPy's wheel for CUDA 12 and the CUDA 12 libraries it loads; no GPU here, so CuPy says
    it has no device and the worker offers the numpy backend alone."""
    config = json.loads(_podman("image", "inspect", GPU_IMAGE))[0]["Config"]
    assert config["User"] == "sparsecoding"
    command = config["Cmd"]
    assert command[:2] == ["dask", "worker"]
    assert command[command.index("--resources") + 1] == "GPU=1"
    run = ["run", "--rm", "--network", "none", "--no-healthcheck", GPU_IMAGE]
    out = _podman(*run, "python3", "-c", CUPY_PROBE)
    found = json.loads(out.strip().splitlines()[-1])
    print(f"\n{GPU_IMAGE}: {found}")
    assert found["runtime"] // 1000 == 12 and found["nvrtc"][0] == 12, found
    assert len(found["libraries"]) == 5 and found["available"] is False
    cupy = next(b for b in found["backends"] if b["name"] == "cupy")
    assert cupy["available"] is False and cupy["reason"], cupy
