from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.encode_request_code_solver import EncodeRequestCodeSolver
from ..types import UNSET, Unset

T = TypeVar("T", bound="EncodeRequest")


@_attrs_define
class EncodeRequest:
    """Rows to encode and the options (the model's own when left out).

    Attributes:
        data (list[list[float]]): rows to encode, (n_samples, n_features)
        alpha (float | None | Unset): default: the model's alpha
        code_solver (EncodeRequestCodeSolver | Unset): a lasso solver, or omp: orthogonal matching pursuit (ℓ0, no
            alpha) Default: EncodeRequestCodeSolver.AUTO.
        n_nonzero_coefs (int | None | Unset): omp: atoms per row (default: a tenth of the features)
        positive (bool | None | Unset): default: the model's positive_codes
    """

    data: list[list[float]]
    alpha: float | None | Unset = UNSET
    code_solver: EncodeRequestCodeSolver | Unset = EncodeRequestCodeSolver.AUTO
    n_nonzero_coefs: int | None | Unset = UNSET
    positive: bool | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data

            data.append(data_item)

        alpha: float | None | Unset
        if isinstance(self.alpha, Unset):
            alpha = UNSET
        else:
            alpha = self.alpha

        code_solver: str | Unset = UNSET
        if not isinstance(self.code_solver, Unset):
            code_solver = self.code_solver.value

        n_nonzero_coefs: int | None | Unset
        if isinstance(self.n_nonzero_coefs, Unset):
            n_nonzero_coefs = UNSET
        else:
            n_nonzero_coefs = self.n_nonzero_coefs

        positive: bool | None | Unset
        if isinstance(self.positive, Unset):
            positive = UNSET
        else:
            positive = self.positive

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "data": data,
            }
        )
        if alpha is not UNSET:
            field_dict["alpha"] = alpha
        if code_solver is not UNSET:
            field_dict["code_solver"] = code_solver
        if n_nonzero_coefs is not UNSET:
            field_dict["n_nonzero_coefs"] = n_nonzero_coefs
        if positive is not UNSET:
            field_dict["positive"] = positive

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = cast(list[float], data_item_data)

            data.append(data_item)

        def _parse_alpha(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        alpha = _parse_alpha(d.pop("alpha", UNSET))

        _code_solver = d.pop("code_solver", UNSET)
        code_solver: EncodeRequestCodeSolver | Unset
        if isinstance(_code_solver, Unset):
            code_solver = UNSET
        else:
            code_solver = EncodeRequestCodeSolver(_code_solver)

        def _parse_n_nonzero_coefs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        n_nonzero_coefs = _parse_n_nonzero_coefs(d.pop("n_nonzero_coefs", UNSET))

        def _parse_positive(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        positive = _parse_positive(d.pop("positive", UNSET))

        encode_request = cls(
            data=data,
            alpha=alpha,
            code_solver=code_solver,
            n_nonzero_coefs=n_nonzero_coefs,
            positive=positive,
        )

        return encode_request
