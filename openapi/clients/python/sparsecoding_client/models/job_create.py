from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.job_create_backend import JobCreateBackend
from ..models.job_create_code_solver import JobCreateCodeSolver
from ..models.job_create_dtype_type_0 import JobCreateDtypeType0
from ..models.job_create_execution import JobCreateExecution
from ..models.job_create_mode import JobCreateMode
from ..types import UNSET, Unset

T = TypeVar("T", bound="JobCreate")


@_attrs_define
class JobCreate:
    """A fit job: the data (a dataset id, or an inline matrix), `n_components` and options.

    Attributes:
        n_components (int): atoms to learn; at most SPARSECODING_MAX_N_COMPONENTS (default 4096)
        alpha (float | Unset): weight of the ℓ1 penalty Default: 1.0.
        append (bool | Unset): with `init` a model id: learn on from that model with this data, its dictionary and its
            online statistics carried forward (one pass over the rows in their order, with the model's own options): the way
            to learn from data that arrive over time Default: False.
        averaging (float | None | Unset):
        backend (JobCreateBackend | Unset):  Default: JobCreateBackend.NUMPY.
        batch_size (int | None | Unset): mini-batch rows (online); null: chosen from the data
        code_max_iter (int | Unset):  Default: 1000.
        code_solver (JobCreateCodeSolver | Unset):  Default: JobCreateCodeSolver.AUTO.
        code_tol (float | None | Unset):
        data (list[list[float]] | None | Unset): inline matrix (n_samples, n_features), instead of dataset_id
        dataset_id (None | str | Unset):
        dictionary_penalty (float | None | Unset):
        dtype (JobCreateDtypeType0 | None | Unset):
        execution (JobCreateExecution | Unset): where the fit runs: `local` on one worker, `data_parallel` with X split
            by rows across the cluster's workers (partial statistics summed each iteration), `auto` data-parallel once the
            dataset exceeds a quarter of a worker's memory limit Default: JobCreateExecution.AUTO.
        init (str | Unset): one of ['data', 'svd'], or the id of one of your models to start from Default: 'data'.
        max_iter (int | Unset): outer iterations (online: epochs) Default: 100.
        mode (JobCreateMode | Unset): auto: chosen from the data (see solvers.auto) Default: JobCreateMode.AUTO.
        polyak_burn_in (float | None | Unset):
        positive_codes (bool | Unset):  Default: False.
        positive_dictionary (bool | Unset):  Default: False.
        random_state (int | None | Unset):
        time_limit (float | None | Unset): seconds
        tol (float | Unset):  Default: 1e-06.
    """

    n_components: int
    alpha: float | Unset = 1.0
    append: bool | Unset = False
    averaging: float | None | Unset = UNSET
    backend: JobCreateBackend | Unset = JobCreateBackend.NUMPY
    batch_size: int | None | Unset = UNSET
    code_max_iter: int | Unset = 1000
    code_solver: JobCreateCodeSolver | Unset = JobCreateCodeSolver.AUTO
    code_tol: float | None | Unset = UNSET
    data: list[list[float]] | None | Unset = UNSET
    dataset_id: None | str | Unset = UNSET
    dictionary_penalty: float | None | Unset = UNSET
    dtype: JobCreateDtypeType0 | None | Unset = UNSET
    execution: JobCreateExecution | Unset = JobCreateExecution.AUTO
    init: str | Unset = "data"
    max_iter: int | Unset = 100
    mode: JobCreateMode | Unset = JobCreateMode.AUTO
    polyak_burn_in: float | None | Unset = UNSET
    positive_codes: bool | Unset = False
    positive_dictionary: bool | Unset = False
    random_state: int | None | Unset = UNSET
    time_limit: float | None | Unset = UNSET
    tol: float | Unset = 1e-06

    def to_dict(self) -> dict[str, Any]:
        n_components = self.n_components

        alpha = self.alpha

        append = self.append

        averaging: float | None | Unset
        if isinstance(self.averaging, Unset):
            averaging = UNSET
        else:
            averaging = self.averaging

        backend: str | Unset = UNSET
        if not isinstance(self.backend, Unset):
            backend = self.backend.value

        batch_size: int | None | Unset
        if isinstance(self.batch_size, Unset):
            batch_size = UNSET
        else:
            batch_size = self.batch_size

        code_max_iter = self.code_max_iter

        code_solver: str | Unset = UNSET
        if not isinstance(self.code_solver, Unset):
            code_solver = self.code_solver.value

        code_tol: float | None | Unset
        if isinstance(self.code_tol, Unset):
            code_tol = UNSET
        else:
            code_tol = self.code_tol

        data: list[list[float]] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, list):
            data = []
            for data_type_0_item_data in self.data:
                data_type_0_item = data_type_0_item_data

                data.append(data_type_0_item)

        else:
            data = self.data

        dataset_id: None | str | Unset
        if isinstance(self.dataset_id, Unset):
            dataset_id = UNSET
        else:
            dataset_id = self.dataset_id

        dictionary_penalty: float | None | Unset
        if isinstance(self.dictionary_penalty, Unset):
            dictionary_penalty = UNSET
        else:
            dictionary_penalty = self.dictionary_penalty

        dtype: None | str | Unset
        if isinstance(self.dtype, Unset):
            dtype = UNSET
        elif isinstance(self.dtype, JobCreateDtypeType0):
            dtype = self.dtype.value
        else:
            dtype = self.dtype

        execution: str | Unset = UNSET
        if not isinstance(self.execution, Unset):
            execution = self.execution.value

        init = self.init

        max_iter = self.max_iter

        mode: str | Unset = UNSET
        if not isinstance(self.mode, Unset):
            mode = self.mode.value

        polyak_burn_in: float | None | Unset
        if isinstance(self.polyak_burn_in, Unset):
            polyak_burn_in = UNSET
        else:
            polyak_burn_in = self.polyak_burn_in

        positive_codes = self.positive_codes

        positive_dictionary = self.positive_dictionary

        random_state: int | None | Unset
        if isinstance(self.random_state, Unset):
            random_state = UNSET
        else:
            random_state = self.random_state

        time_limit: float | None | Unset
        if isinstance(self.time_limit, Unset):
            time_limit = UNSET
        else:
            time_limit = self.time_limit

        tol = self.tol

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "n_components": n_components,
            }
        )
        if alpha is not UNSET:
            field_dict["alpha"] = alpha
        if append is not UNSET:
            field_dict["append"] = append
        if averaging is not UNSET:
            field_dict["averaging"] = averaging
        if backend is not UNSET:
            field_dict["backend"] = backend
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if code_max_iter is not UNSET:
            field_dict["code_max_iter"] = code_max_iter
        if code_solver is not UNSET:
            field_dict["code_solver"] = code_solver
        if code_tol is not UNSET:
            field_dict["code_tol"] = code_tol
        if data is not UNSET:
            field_dict["data"] = data
        if dataset_id is not UNSET:
            field_dict["dataset_id"] = dataset_id
        if dictionary_penalty is not UNSET:
            field_dict["dictionary_penalty"] = dictionary_penalty
        if dtype is not UNSET:
            field_dict["dtype"] = dtype
        if execution is not UNSET:
            field_dict["execution"] = execution
        if init is not UNSET:
            field_dict["init"] = init
        if max_iter is not UNSET:
            field_dict["max_iter"] = max_iter
        if mode is not UNSET:
            field_dict["mode"] = mode
        if polyak_burn_in is not UNSET:
            field_dict["polyak_burn_in"] = polyak_burn_in
        if positive_codes is not UNSET:
            field_dict["positive_codes"] = positive_codes
        if positive_dictionary is not UNSET:
            field_dict["positive_dictionary"] = positive_dictionary
        if random_state is not UNSET:
            field_dict["random_state"] = random_state
        if time_limit is not UNSET:
            field_dict["time_limit"] = time_limit
        if tol is not UNSET:
            field_dict["tol"] = tol

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        n_components = d.pop("n_components")

        alpha = d.pop("alpha", UNSET)

        append = d.pop("append", UNSET)

        def _parse_averaging(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        averaging = _parse_averaging(d.pop("averaging", UNSET))

        _backend = d.pop("backend", UNSET)
        backend: JobCreateBackend | Unset
        if isinstance(_backend, Unset):
            backend = UNSET
        else:
            backend = JobCreateBackend(_backend)

        def _parse_batch_size(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        batch_size = _parse_batch_size(d.pop("batch_size", UNSET))

        code_max_iter = d.pop("code_max_iter", UNSET)

        _code_solver = d.pop("code_solver", UNSET)
        code_solver: JobCreateCodeSolver | Unset
        if isinstance(_code_solver, Unset):
            code_solver = UNSET
        else:
            code_solver = JobCreateCodeSolver(_code_solver)

        def _parse_code_tol(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        code_tol = _parse_code_tol(d.pop("code_tol", UNSET))

        def _parse_data(data: object) -> list[list[float]] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                data_type_0 = []
                _data_type_0 = data
                for data_type_0_item_data in _data_type_0:
                    data_type_0_item = cast(list[float], data_type_0_item_data)

                    data_type_0.append(data_type_0_item)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[list[float]] | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        def _parse_dataset_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dataset_id = _parse_dataset_id(d.pop("dataset_id", UNSET))

        def _parse_dictionary_penalty(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        dictionary_penalty = _parse_dictionary_penalty(d.pop("dictionary_penalty", UNSET))

        def _parse_dtype(data: object) -> JobCreateDtypeType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                dtype_type_0 = JobCreateDtypeType0(data)

                return dtype_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobCreateDtypeType0 | None | Unset, data)

        dtype = _parse_dtype(d.pop("dtype", UNSET))

        _execution = d.pop("execution", UNSET)
        execution: JobCreateExecution | Unset
        if isinstance(_execution, Unset):
            execution = UNSET
        else:
            execution = JobCreateExecution(_execution)

        init = d.pop("init", UNSET)

        max_iter = d.pop("max_iter", UNSET)

        _mode = d.pop("mode", UNSET)
        mode: JobCreateMode | Unset
        if isinstance(_mode, Unset):
            mode = UNSET
        else:
            mode = JobCreateMode(_mode)

        def _parse_polyak_burn_in(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        polyak_burn_in = _parse_polyak_burn_in(d.pop("polyak_burn_in", UNSET))

        positive_codes = d.pop("positive_codes", UNSET)

        positive_dictionary = d.pop("positive_dictionary", UNSET)

        def _parse_random_state(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        random_state = _parse_random_state(d.pop("random_state", UNSET))

        def _parse_time_limit(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        time_limit = _parse_time_limit(d.pop("time_limit", UNSET))

        tol = d.pop("tol", UNSET)

        job_create = cls(
            n_components=n_components,
            alpha=alpha,
            append=append,
            averaging=averaging,
            backend=backend,
            batch_size=batch_size,
            code_max_iter=code_max_iter,
            code_solver=code_solver,
            code_tol=code_tol,
            data=data,
            dataset_id=dataset_id,
            dictionary_penalty=dictionary_penalty,
            dtype=dtype,
            execution=execution,
            init=init,
            max_iter=max_iter,
            mode=mode,
            polyak_burn_in=polyak_burn_in,
            positive_codes=positive_codes,
            positive_dictionary=positive_dictionary,
            random_state=random_state,
            time_limit=time_limit,
            tol=tol,
        )

        return job_create
