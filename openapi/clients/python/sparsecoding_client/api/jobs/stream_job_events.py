from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.stream_job_events_response_200_type_0 import (
    StreamJobEventsResponse200Type0,
)
from ...models.stream_job_events_response_200_type_1 import (
    StreamJobEventsResponse200Type1,
)
from ...models.stream_job_events_response_200_type_2 import (
    StreamJobEventsResponse200Type2,
)
from ...types import UNSET, Response, Unset


def _get_kwargs(
    job_id: str,
    *,
    last_event_id: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["last-event-id"] = last_event_id

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/jobs/{job_id}/events".format(
            job_id=quote(str(job_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2 | None
):
    if response.status_code == 200:

        def _parse_response_200(
            data: object,
        ) -> StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_0 = StreamJobEventsResponse200Type0.from_dict(data)

                return response_200_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_1 = StreamJobEventsResponse200Type1.from_dict(data)

                return response_200_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_200_type_2 = StreamJobEventsResponse200Type2.from_dict(data)

            return response_200_type_2

        response_200 = _parse_response_200(response.text)

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    job_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: None | str | Unset = UNSET,
) -> Response[
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2
]:
    """Follow a job (Server-Sent Events)

     Server-Sent Events: every progress record in order, then the final job as `status`.

    Args:
        job_id (str): a job id, as submit returned it
        last_event_id (None | str | Unset): resume after this event id (an iteration)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2]
    """

    kwargs = _get_kwargs(
        job_id=job_id,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    job_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: None | str | Unset = UNSET,
) -> (
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2 | None
):
    """Follow a job (Server-Sent Events)

     Server-Sent Events: every progress record in order, then the final job as `status`.

    Args:
        job_id (str): a job id, as submit returned it
        last_event_id (None | str | Unset): resume after this event id (an iteration)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2
    """

    return sync_detailed(
        job_id=job_id,
        client=client,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    job_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: None | str | Unset = UNSET,
) -> Response[
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2
]:
    """Follow a job (Server-Sent Events)

     Server-Sent Events: every progress record in order, then the final job as `status`.

    Args:
        job_id (str): a job id, as submit returned it
        last_event_id (None | str | Unset): resume after this event id (an iteration)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2]
    """

    kwargs = _get_kwargs(
        job_id=job_id,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    job_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: None | str | Unset = UNSET,
) -> (
    Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2 | None
):
    """Follow a job (Server-Sent Events)

     Server-Sent Events: every progress record in order, then the final job as `status`.

    Args:
        job_id (str): a job id, as submit returned it
        last_event_id (None | str | Unset): resume after this event id (an iteration)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | StreamJobEventsResponse200Type0 | StreamJobEventsResponse200Type1 | StreamJobEventsResponse200Type2
    """

    return (
        await asyncio_detailed(
            job_id=job_id,
            client=client,
            last_event_id=last_event_id,
        )
    ).parsed
