from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DatasetPublic")


@_attrs_define
class DatasetPublic:
    """A stored matrix; `sha256` is the digest of the uploaded `.npy` file.

    Attributes:
        created_at (datetime.datetime):
        dtype (str):
        id (str):
        n_features (int):
        n_samples (int):
        name (None | str):
        nbytes (int):
        sha256 (str):
    """

    created_at: datetime.datetime
    dtype: str
    id: str
    n_features: int
    n_samples: int
    name: None | str
    nbytes: int
    sha256: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        dtype = self.dtype

        id = self.id

        n_features = self.n_features

        n_samples = self.n_samples

        name: None | str
        name = self.name

        nbytes = self.nbytes

        sha256 = self.sha256

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "dtype": dtype,
                "id": id,
                "n_features": n_features,
                "n_samples": n_samples,
                "name": name,
                "nbytes": nbytes,
                "sha256": sha256,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        dtype = d.pop("dtype")

        id = d.pop("id")

        n_features = d.pop("n_features")

        n_samples = d.pop("n_samples")

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        nbytes = d.pop("nbytes")

        sha256 = d.pop("sha256")

        dataset_public = cls(
            created_at=created_at,
            dtype=dtype,
            id=id,
            n_features=n_features,
            n_samples=n_samples,
            name=name,
            nbytes=nbytes,
            sha256=sha256,
        )

        dataset_public.additional_properties = d
        return dataset_public

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
