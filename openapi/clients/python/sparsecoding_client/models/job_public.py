from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_public_phase_type_0 import JobPublicPhaseType0
from ..models.job_state import JobState
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_public_options import JobPublicOptions
    from ..models.progress_public import ProgressPublic


T = TypeVar("T", bound="JobPublic")


@_attrs_define
class JobPublic:
    """A fit job: its state, latest progress, and result (`model_id`) or `error`.

    Attributes:
        attempts (int): runs started so far (a lost run is retried)
        cancel_requested (bool):
        created_at (datetime.datetime):
        dataset_id (str):
        error (None | str):
        finished_at (datetime.datetime | None):
        id (str):
        model_id (None | str):
        n_components (int):
        n_iter (int | None):
        objective (float | None): J / n_samples of the learned dictionary and the codes (exact, every mode)
        options (JobPublicOptions):
        progress (None | ProgressPublic): the latest progress record
        started_at (datetime.datetime | None):
        state (JobState):
        stop_reason (None | str):
        worker (None | str): address of the Dask worker running it
        phase (JobPublicPhaseType0 | None | Unset): while running: `compiling` the CPU kernels (first job after an
            install) or `fitting`
        runtime_cap_s (float | None | Unset): seconds of fitting the job may use over all its runs
            (SPARSECODING_MAX_JOB_SECONDS); it stops there with stop_reason runtime_cap
        warnings (list[str] | Unset): what the submission was warned of: the fit runs, but its result is unlikely to be
            what was meant (e.g. n_components not smaller than n_samples)
    """

    attempts: int
    cancel_requested: bool
    created_at: datetime.datetime
    dataset_id: str
    error: None | str
    finished_at: datetime.datetime | None
    id: str
    model_id: None | str
    n_components: int
    n_iter: int | None
    objective: float | None
    options: JobPublicOptions
    progress: None | ProgressPublic
    started_at: datetime.datetime | None
    state: JobState
    stop_reason: None | str
    worker: None | str
    phase: JobPublicPhaseType0 | None | Unset = UNSET
    runtime_cap_s: float | None | Unset = UNSET
    warnings: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.progress_public import ProgressPublic  # noqa: PLC0415

        attempts = self.attempts

        cancel_requested = self.cancel_requested

        created_at = self.created_at.isoformat()

        dataset_id = self.dataset_id

        error: None | str
        error = self.error

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        id = self.id

        model_id: None | str
        model_id = self.model_id

        n_components = self.n_components

        n_iter: int | None
        n_iter = self.n_iter

        objective: float | None
        objective = self.objective

        options = self.options.to_dict()

        progress: dict[str, Any] | None
        if isinstance(self.progress, ProgressPublic):
            progress = self.progress.to_dict()
        else:
            progress = self.progress

        started_at: None | str
        if isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        state = self.state.value

        stop_reason: None | str
        stop_reason = self.stop_reason

        worker: None | str
        worker = self.worker

        phase: None | str | Unset
        if isinstance(self.phase, Unset):
            phase = UNSET
        elif isinstance(self.phase, JobPublicPhaseType0):
            phase = self.phase.value
        else:
            phase = self.phase

        runtime_cap_s: float | None | Unset
        if isinstance(self.runtime_cap_s, Unset):
            runtime_cap_s = UNSET
        else:
            runtime_cap_s = self.runtime_cap_s

        warnings: list[str] | Unset = UNSET
        if not isinstance(self.warnings, Unset):
            warnings = self.warnings

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "cancel_requested": cancel_requested,
                "created_at": created_at,
                "dataset_id": dataset_id,
                "error": error,
                "finished_at": finished_at,
                "id": id,
                "model_id": model_id,
                "n_components": n_components,
                "n_iter": n_iter,
                "objective": objective,
                "options": options,
                "progress": progress,
                "started_at": started_at,
                "state": state,
                "stop_reason": stop_reason,
                "worker": worker,
            }
        )
        if phase is not UNSET:
            field_dict["phase"] = phase
        if runtime_cap_s is not UNSET:
            field_dict["runtime_cap_s"] = runtime_cap_s
        if warnings is not UNSET:
            field_dict["warnings"] = warnings

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_public_options import JobPublicOptions  # noqa: PLC0415
        from ..models.progress_public import ProgressPublic  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        cancel_requested = d.pop("cancel_requested")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        dataset_id = d.pop("dataset_id")

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))

        def _parse_finished_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        id = d.pop("id")

        def _parse_model_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model_id = _parse_model_id(d.pop("model_id"))

        n_components = d.pop("n_components")

        def _parse_n_iter(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        n_iter = _parse_n_iter(d.pop("n_iter"))

        def _parse_objective(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        objective = _parse_objective(d.pop("objective"))

        options = JobPublicOptions.from_dict(d.pop("options"))

        def _parse_progress(data: object) -> None | ProgressPublic:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                progress_type_0 = ProgressPublic.from_dict(data)

                return progress_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProgressPublic, data)

        progress = _parse_progress(d.pop("progress"))

        def _parse_started_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        started_at = _parse_started_at(d.pop("started_at"))

        state = JobState(d.pop("state"))

        def _parse_stop_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        stop_reason = _parse_stop_reason(d.pop("stop_reason"))

        def _parse_worker(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        worker = _parse_worker(d.pop("worker"))

        def _parse_phase(data: object) -> JobPublicPhaseType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                phase_type_0 = JobPublicPhaseType0(data)

                return phase_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobPublicPhaseType0 | None | Unset, data)

        phase = _parse_phase(d.pop("phase", UNSET))

        def _parse_runtime_cap_s(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        runtime_cap_s = _parse_runtime_cap_s(d.pop("runtime_cap_s", UNSET))

        warnings = cast(list[str], d.pop("warnings", UNSET))

        job_public = cls(
            attempts=attempts,
            cancel_requested=cancel_requested,
            created_at=created_at,
            dataset_id=dataset_id,
            error=error,
            finished_at=finished_at,
            id=id,
            model_id=model_id,
            n_components=n_components,
            n_iter=n_iter,
            objective=objective,
            options=options,
            progress=progress,
            started_at=started_at,
            state=state,
            stop_reason=stop_reason,
            worker=worker,
            phase=phase,
            runtime_cap_s=runtime_cap_s,
            warnings=warnings,
        )

        job_public.additional_properties = d
        return job_public

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
