from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BackendPublic")


@_attrs_define
class BackendPublic:
    """A backend and the workers that can run it.

    Attributes:
        available (bool): true when at least one worker can run it
        name (str):
        device (None | str | Unset):
        memory_bytes (int | None | Unset):
        reason (None | str | Unset):
        workers (list[str] | Unset): workers that can run it
    """

    available: bool
    name: str
    device: None | str | Unset = UNSET
    memory_bytes: int | None | Unset = UNSET
    reason: None | str | Unset = UNSET
    workers: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        name = self.name

        device: None | str | Unset
        if isinstance(self.device, Unset):
            device = UNSET
        else:
            device = self.device

        memory_bytes: int | None | Unset
        if isinstance(self.memory_bytes, Unset):
            memory_bytes = UNSET
        else:
            memory_bytes = self.memory_bytes

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        workers: list[str] | Unset = UNSET
        if not isinstance(self.workers, Unset):
            workers = self.workers

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "name": name,
            }
        )
        if device is not UNSET:
            field_dict["device"] = device
        if memory_bytes is not UNSET:
            field_dict["memory_bytes"] = memory_bytes
        if reason is not UNSET:
            field_dict["reason"] = reason
        if workers is not UNSET:
            field_dict["workers"] = workers

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        available = d.pop("available")

        name = d.pop("name")

        def _parse_device(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        device = _parse_device(d.pop("device", UNSET))

        def _parse_memory_bytes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        memory_bytes = _parse_memory_bytes(d.pop("memory_bytes", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        workers = cast(list[str], d.pop("workers", UNSET))

        backend_public = cls(
            available=available,
            name=name,
            device=device,
            memory_bytes=memory_bytes,
            reason=reason,
            workers=workers,
        )

        backend_public.additional_properties = d
        return backend_public

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
