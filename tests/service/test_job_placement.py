"""Which workers may run a job (`service.runner.placement.job_restrictions`): cupy jobs the
GPU workers only, CPU jobs the others while there are any."""

from __future__ import annotations

from service.runner.placement import job_restrictions

CPU, GPU, MARKED = "tcp://10.0.0.1:1", "tcp://10.0.0.2:1", "tcp://10.0.0.3:1"
# the scheduler's view: MARKED was started with --resources GPU=1 (its CuPy need not work)
WORKERS = {CPU: {"resources": {}}, GPU: {"resources": {}}, MARKED: {"resources": {"GPU": 1}}}


def test_cupy_jobs_run_on_workers_with_cupy_only():
    assert job_restrictions({"backend": "cupy"}, WORKERS, [GPU]) == {
        "workers": [GPU],
        "allow_other_workers": False,
    }


def test_cpu_jobs_keep_off_the_gpu_workers():
    expected = {"workers": [CPU], "allow_other_workers": False}
    assert job_restrictions({"backend": "numpy"}, WORKERS, [GPU]) == expected
    assert job_restrictions({}, WORKERS, [GPU]) == expected  # numpy is the default
    assert job_restrictions({"backend": "auto", "code_solver": "cd"}, WORKERS, [GPU]) == expected


def test_no_preference_where_there_is_no_choice():
    only_cpu = {CPU: {"resources": {}}}
    assert job_restrictions({"backend": "numpy"}, only_cpu, []) == {}
    only_gpu = {GPU: {"resources": {}}}
    assert job_restrictions({"backend": "numpy"}, only_gpu, [GPU]) == {}
    # auto with a solver that runs on both: wherever Dask puts it
    assert job_restrictions({"backend": "auto"}, WORKERS, [GPU]) == {}
