from __future__ import annotations

from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="StreamJobEventsResponse200Type2")


@_attrs_define
class StreamJobEventsResponse200Type2:
    """
    Attributes:
        data (Any | Unset):
        event (Literal['status'] | Unset):
    """

    data: Any | Unset = UNSET
    event: Literal["status"] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = self.data

        event = self.event

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if data is not UNSET:
            field_dict["data"] = data
        if event is not UNSET:
            field_dict["event"] = event

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        data = d.pop("data", UNSET)

        event = cast(Literal["status"] | Unset, d.pop("event", UNSET))
        if event != "status" and not isinstance(event, Unset):
            raise ValueError(f"event must match const 'status', got '{event}'")

        stream_job_events_response_200_type_2 = cls(
            data=data,
            event=event,
        )

        stream_job_events_response_200_type_2.additional_properties = d
        return stream_job_events_response_200_type_2

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
