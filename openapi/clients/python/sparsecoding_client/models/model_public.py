from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.model_public_options import ModelPublicOptions


T = TypeVar("T", bound="ModelPublic")


@_attrs_define
class ModelPublic:
    """A learned dictionary (n_components, n_features) and how it was learned.

    Attributes:
        alpha (float):
        backend (str):
        created_at (datetime.datetime):
        dataset_id (str):
        dtype (str):
        id (str):
        job_id (str):
        n_components (int):
        n_features (int):
        n_iter (int):
        objective (float | None): J / n_samples at the end of the fit
        options (ModelPublicOptions):
        positive_codes (bool):
        stop_reason (str):
    """

    alpha: float
    backend: str
    created_at: datetime.datetime
    dataset_id: str
    dtype: str
    id: str
    job_id: str
    n_components: int
    n_features: int
    n_iter: int
    objective: float | None
    options: ModelPublicOptions
    positive_codes: bool
    stop_reason: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        alpha = self.alpha

        backend = self.backend

        created_at = self.created_at.isoformat()

        dataset_id = self.dataset_id

        dtype = self.dtype

        id = self.id

        job_id = self.job_id

        n_components = self.n_components

        n_features = self.n_features

        n_iter = self.n_iter

        objective: float | None
        objective = self.objective

        options = self.options.to_dict()

        positive_codes = self.positive_codes

        stop_reason = self.stop_reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "alpha": alpha,
                "backend": backend,
                "created_at": created_at,
                "dataset_id": dataset_id,
                "dtype": dtype,
                "id": id,
                "job_id": job_id,
                "n_components": n_components,
                "n_features": n_features,
                "n_iter": n_iter,
                "objective": objective,
                "options": options,
                "positive_codes": positive_codes,
                "stop_reason": stop_reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_public_options import ModelPublicOptions  # noqa: PLC0415

        d = dict(src_dict)
        alpha = d.pop("alpha")

        backend = d.pop("backend")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        dataset_id = d.pop("dataset_id")

        dtype = d.pop("dtype")

        id = d.pop("id")

        job_id = d.pop("job_id")

        n_components = d.pop("n_components")

        n_features = d.pop("n_features")

        n_iter = d.pop("n_iter")

        def _parse_objective(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        objective = _parse_objective(d.pop("objective"))

        options = ModelPublicOptions.from_dict(d.pop("options"))

        positive_codes = d.pop("positive_codes")

        stop_reason = d.pop("stop_reason")

        model_public = cls(
            alpha=alpha,
            backend=backend,
            created_at=created_at,
            dataset_id=dataset_id,
            dtype=dtype,
            id=id,
            job_id=job_id,
            n_components=n_components,
            n_features=n_features,
            n_iter=n_iter,
            objective=objective,
            options=options,
            positive_codes=positive_codes,
            stop_reason=stop_reason,
        )

        model_public.additional_properties = d
        return model_public

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
