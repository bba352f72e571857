from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.encode_public import EncodePublic
from ...models.encode_request import EncodeRequest
from ...models.encode_with_model_code_solver_type_0 import (
    EncodeWithModelCodeSolverType0,
)
from ...models.problem import Problem
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    body: EncodeRequest | File | File | Unset = UNSET,
    alpha: float | None | Unset = UNSET,
    positive: bool | None | Unset = UNSET,
    code_solver: EncodeWithModelCodeSolverType0 | None | Unset = UNSET,
    n_nonzero_coefs: int | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    json_alpha: float | None | Unset
    if isinstance(alpha, Unset):
        json_alpha = UNSET
    else:
        json_alpha = alpha
    params["alpha"] = json_alpha

    json_positive: bool | None | Unset
    if isinstance(positive, Unset):
        json_positive = UNSET
    else:
        json_positive = positive
    params["positive"] = json_positive

    json_code_solver: None | str | Unset
    if isinstance(code_solver, Unset):
        json_code_solver = UNSET
    elif isinstance(code_solver, EncodeWithModelCodeSolverType0):
        json_code_solver = code_solver.value
    else:
        json_code_solver = code_solver
    params["code_solver"] = json_code_solver

    json_n_nonzero_coefs: int | None | Unset
    if isinstance(n_nonzero_coefs, Unset):
        json_n_nonzero_coefs = UNSET
    else:
        json_n_nonzero_coefs = n_nonzero_coefs
    params["n_nonzero_coefs"] = json_n_nonzero_coefs

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/models/{model_id}/encode".format(
            model_id=quote(str(model_id), safe=""),
        ),
        "params": params,
    }

    if isinstance(body, EncodeRequest):
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


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> EncodePublic | Problem | None:
    if response.status_code == 200:
        response_200 = EncodePublic.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 406:
        response_406 = Problem.from_dict(response.json())

        return response_406

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[EncodePublic | Problem]:
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
    body: EncodeRequest | File | File | Unset = UNSET,
    alpha: float | None | Unset = UNSET,
    positive: bool | None | Unset = UNSET,
    code_solver: EncodeWithModelCodeSolverType0 | None | Unset = UNSET,
    n_nonzero_coefs: int | None | Unset = UNSET,
) -> Response[EncodePublic | Problem]:
    """Encode rows with a model

     Codes of new rows with the stored dictionary (synchronous, size-limited).

    Args:
        model_id (str): a model id, a succeeded job's model_id
        alpha (float | None | Unset): for .npy bodies
        positive (bool | None | Unset): for .npy bodies
        code_solver (EncodeWithModelCodeSolverType0 | None | Unset): for .npy bodies
        n_nonzero_coefs (int | None | Unset): for .npy bodies
        body (EncodeRequest): Rows to encode and the options (the model's own when left out).
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EncodePublic | Problem]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
        alpha=alpha,
        positive=positive,
        code_solver=code_solver,
        n_nonzero_coefs=n_nonzero_coefs,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    model_id: str,
    *,
    client: AuthenticatedClient,
    body: EncodeRequest | File | File | Unset = UNSET,
    alpha: float | None | Unset = UNSET,
    positive: bool | None | Unset = UNSET,
    code_solver: EncodeWithModelCodeSolverType0 | None | Unset = UNSET,
    n_nonzero_coefs: int | None | Unset = UNSET,
) -> EncodePublic | Problem | None:
    """Encode rows with a model

     Codes of new rows with the stored dictionary (synchronous, size-limited).

    Args:
        model_id (str): a model id, a succeeded job's model_id
        alpha (float | None | Unset): for .npy bodies
        positive (bool | None | Unset): for .npy bodies
        code_solver (EncodeWithModelCodeSolverType0 | None | Unset): for .npy bodies
        n_nonzero_coefs (int | None | Unset): for .npy bodies
        body (EncodeRequest): Rows to encode and the options (the model's own when left out).
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EncodePublic | Problem
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        body=body,
        alpha=alpha,
        positive=positive,
        code_solver=code_solver,
        n_nonzero_coefs=n_nonzero_coefs,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient,
    body: EncodeRequest | File | File | Unset = UNSET,
    alpha: float | None | Unset = UNSET,
    positive: bool | None | Unset = UNSET,
    code_solver: EncodeWithModelCodeSolverType0 | None | Unset = UNSET,
    n_nonzero_coefs: int | None | Unset = UNSET,
) -> Response[EncodePublic | Problem]:
    """Encode rows with a model

     Codes of new rows with the stored dictionary (synchronous, size-limited).

    Args:
        model_id (str): a model id, a succeeded job's model_id
        alpha (float | None | Unset): for .npy bodies
        positive (bool | None | Unset): for .npy bodies
        code_solver (EncodeWithModelCodeSolverType0 | None | Unset): for .npy bodies
        n_nonzero_coefs (int | None | Unset): for .npy bodies
        body (EncodeRequest): Rows to encode and the options (the model's own when left out).
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EncodePublic | Problem]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
        alpha=alpha,
        positive=positive,
        code_solver=code_solver,
        n_nonzero_coefs=n_nonzero_coefs,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient,
    body: EncodeRequest | File | File | Unset = UNSET,
    alpha: float | None | Unset = UNSET,
    positive: bool | None | Unset = UNSET,
    code_solver: EncodeWithModelCodeSolverType0 | None | Unset = UNSET,
    n_nonzero_coefs: int | None | Unset = UNSET,
) -> EncodePublic | Problem | None:
    """Encode rows with a model

     Codes of new rows with the stored dictionary (synchronous, size-limited).

    Args:
        model_id (str): a model id, a succeeded job's model_id
        alpha (float | None | Unset): for .npy bodies
        positive (bool | None | Unset): for .npy bodies
        code_solver (EncodeWithModelCodeSolverType0 | None | Unset): for .npy bodies
        n_nonzero_coefs (int | None | Unset): for .npy bodies
        body (EncodeRequest): Rows to encode and the options (the model's own when left out).
        body (File):
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EncodePublic | Problem
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            body=body,
            alpha=alpha,
            positive=positive,
            code_solver=code_solver,
            n_nonzero_coefs=n_nonzero_coefs,
        )
    ).parsed
