from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    scale: int | Unset = 4,
    columns: int | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["scale"] = scale

    json_columns: int | None | Unset
    if isinstance(columns, Unset):
        json_columns = UNSET
    else:
        json_columns = columns
    params["columns"] = json_columns

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/models/{model_id}/atoms.png".format(
            model_id=quote(str(model_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> File | Problem | None:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[File | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient,
    scale: int | Unset = 4,
    columns: int | None | Unset = UNSET,
) -> Response[File | Problem]:
    """Render the atoms as a PNG

     The atoms as gray tiles: square patches when n_features is a square, else strips.

    Args:
        model_id (str): a model id, a succeeded job's model_id
        scale (int | Unset): pixels per value Default: 4.
        columns (int | None | Unset): tiles per row (default: about square)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | Problem]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        scale=scale,
        columns=columns,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    model_id: str,
    *,
    client: AuthenticatedClient,
    scale: int | Unset = 4,
    columns: int | None | Unset = UNSET,
) -> File | Problem | None:
    """Render the atoms as a PNG

     The atoms as gray tiles: square patches when n_features is a square, else strips.

    Args:
        model_id (str): a model id, a succeeded job's model_id
        scale (int | Unset): pixels per value Default: 4.
        columns (int | None | Unset): tiles per row (default: about square)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | Problem
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        scale=scale,
        columns=columns,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient,
    scale: int | Unset = 4,
    columns: int | None | Unset = UNSET,
) -> Response[File | Problem]:
    """Render the atoms as a PNG

     The atoms as gray tiles: square patches when n_features is a square, else strips.

    Args:
        model_id (str): a model id, a succeeded job's model_id
        scale (int | Unset): pixels per value Default: 4.
        columns (int | None | Unset): tiles per row (default: about square)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[File | Problem]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        scale=scale,
        columns=columns,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient,
    scale: int | Unset = 4,
    columns: int | None | Unset = UNSET,
) -> File | Problem | None:
    """Render the atoms as a PNG

     The atoms as gray tiles: square patches when n_features is a square, else strips.

    Args:
        model_id (str): a model id, a succeeded job's model_id
        scale (int | Unset): pixels per value Default: 4.
        columns (int | None | Unset): tiles per row (default: about square)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        File | Problem
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            scale=scale,
            columns=columns,
        )
    ).parsed
