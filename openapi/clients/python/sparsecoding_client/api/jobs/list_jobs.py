from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.job_state import JobState
from ...models.jobs_public import JobsPublic
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: JobState | None | Unset = UNSET,
    offset: int | Unset = 0,
    limit: int | Unset = 20,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, JobState):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    params["offset"] = offset

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/jobs",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> JobsPublic | Problem | None:
    if response.status_code == 200:
        response_200 = JobsPublic.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[JobsPublic | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: JobState | None | Unset = UNSET,
    offset: int | Unset = 0,
    limit: int | Unset = 20,
) -> Response[JobsPublic | Problem]:
    """List jobs

     Your jobs, newest first; `count` is the total over all pages.

    Args:
        status (JobState | None | Unset): only jobs in this state
        offset (int | Unset): records to skip Default: 0.
        limit (int | Unset): records per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobsPublic | Problem]
    """

    kwargs = _get_kwargs(
        status=status,
        offset=offset,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: JobState | None | Unset = UNSET,
    offset: int | Unset = 0,
    limit: int | Unset = 20,
) -> JobsPublic | Problem | None:
    """List jobs

     Your jobs, newest first; `count` is the total over all pages.

    Args:
        status (JobState | None | Unset): only jobs in this state
        offset (int | Unset): records to skip Default: 0.
        limit (int | Unset): records per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobsPublic | Problem
    """

    return sync_detailed(
        client=client,
        status=status,
        offset=offset,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: JobState | None | Unset = UNSET,
    offset: int | Unset = 0,
    limit: int | Unset = 20,
) -> Response[JobsPublic | Problem]:
    """List jobs

     Your jobs, newest first; `count` is the total over all pages.

    Args:
        status (JobState | None | Unset): only jobs in this state
        offset (int | Unset): records to skip Default: 0.
        limit (int | Unset): records per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobsPublic | Problem]
    """

    kwargs = _get_kwargs(
        status=status,
        offset=offset,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: JobState | None | Unset = UNSET,
    offset: int | Unset = 0,
    limit: int | Unset = 20,
) -> JobsPublic | Problem | None:
    """List jobs

     Your jobs, newest first; `count` is the total over all pages.

    Args:
        status (JobState | None | Unset): only jobs in this state
        offset (int | Unset): records to skip Default: 0.
        limit (int | Unset): records per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobsPublic | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            offset=offset,
            limit=limit,
        )
    ).parsed
