from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.dataset_public import DatasetPublic
from ...models.matrix_upload import MatrixUpload
from ...models.problem import Problem
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    *,
    body: MatrixUpload | File | File | Unset = UNSET,
    name: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    json_name: None | str | Unset
    if isinstance(name, Unset):
        json_name = UNSET
    else:
        json_name = name
    params["name"] = json_name

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/datasets",
        "params": params,
    }

    if isinstance(body, MatrixUpload):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "application/octet-stream"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "application/x-npy"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DatasetPublic | Problem | None:
    if response.status_code == 201:
        response_201 = DatasetPublic.from_dict(response.json())

        return response_201

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if response.status_code == 507:
        response_507 = Problem.from_dict(response.json())

        return response_507

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DatasetPublic | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: MatrixUpload | File | File | Unset = UNSET,
    name: None | str | Unset = UNSET,
) -> Response[DatasetPublic | Problem]:
    """Upload a matrix

     Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422.

    Args:
        name (None | str | Unset): a label (JSON bodies may carry it too)
        body (MatrixUpload): A matrix sent as JSON (rows of numbers); `.npy` bodies are the
            efficient alternative.
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DatasetPublic | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        name=name,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: MatrixUpload | File | File | Unset = UNSET,
    name: None | str | Unset = UNSET,
) -> DatasetPublic | Problem | None:
    """Upload a matrix

     Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422.

    Args:
        name (None | str | Unset): a label (JSON bodies may carry it too)
        body (MatrixUpload): A matrix sent as JSON (rows of numbers); `.npy` bodies are the
            efficient alternative.
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DatasetPublic | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        name=name,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: MatrixUpload | File | File | Unset = UNSET,
    name: None | str | Unset = UNSET,
) -> Response[DatasetPublic | Problem]:
    """Upload a matrix

     Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422.

    Args:
        name (None | str | Unset): a label (JSON bodies may carry it too)
        body (MatrixUpload): A matrix sent as JSON (rows of numbers); `.npy` bodies are the
            efficient alternative.
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DatasetPublic | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        name=name,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: MatrixUpload | File | File | Unset = UNSET,
    name: None | str | Unset = UNSET,
) -> DatasetPublic | Problem | None:
    """Upload a matrix

     Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422.

    Args:
        name (None | str | Unset): a label (JSON bodies may carry it too)
        body (MatrixUpload): A matrix sent as JSON (rows of numbers); `.npy` bodies are the
            efficient alternative.
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DatasetPublic | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            name=name,
        )
    ).parsed
