from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="MatrixPublic")


@_attrs_define
class MatrixPublic:
    """A matrix as JSON; ask for `Accept: application/x-npy` to get the `.npy` file instead.

    Attributes:
        data (list[list[float]]):
        dtype (str):
        shape (list[int]):
    """

    data: list[list[float]]
    dtype: str
    shape: list[int]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data

            data.append(data_item)

        dtype = self.dtype

        shape = self.shape

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "data": data,
                "dtype": dtype,
                "shape": shape,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = cast(list[float], data_item_data)

            data.append(data_item)

        dtype = d.pop("dtype")

        shape = cast(list[int], d.pop("shape"))

        matrix_public = cls(
            data=data,
            dtype=dtype,
            shape=shape,
        )

        matrix_public.additional_properties = d
        return matrix_public

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
