from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ProgressPublic")


@_attrs_define
class ProgressPublic:
    """One outer iteration (batch) or mini-batch checkpoint (online) of a running fit.

    Attributes:
        elapsed_s (float):
        epoch (float):
        iteration (int):
        max_gap (float | None): largest relative duality gap of the code step
        objective (float | None): J / n_samples; with `estimate` (online mode) the running average of the recent mini-
            batches' objectives, not yet the objective of the current dictionary
        estimate (bool | Unset): `objective` is an online fit's running estimate Default: False.
    """

    elapsed_s: float
    epoch: float
    iteration: int
    max_gap: float | None
    objective: float | None
    estimate: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        elapsed_s = self.elapsed_s

        epoch = self.epoch

        iteration = self.iteration

        max_gap: float | None
        max_gap = self.max_gap

        objective: float | None
        objective = self.objective

        estimate = self.estimate

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "elapsed_s": elapsed_s,
                "epoch": epoch,
                "iteration": iteration,
                "max_gap": max_gap,
                "objective": objective,
            }
        )
        if estimate is not UNSET:
            field_dict["estimate"] = estimate

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        elapsed_s = d.pop("elapsed_s")

        epoch = d.pop("epoch")

        iteration = d.pop("iteration")

        def _parse_max_gap(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        max_gap = _parse_max_gap(d.pop("max_gap"))

        def _parse_objective(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        objective = _parse_objective(d.pop("objective"))

        estimate = d.pop("estimate", UNSET)

        progress_public = cls(
            elapsed_s=elapsed_s,
            epoch=epoch,
            iteration=iteration,
            max_gap=max_gap,
            objective=objective,
            estimate=estimate,
        )

        progress_public.additional_properties = d
        return progress_public

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
