"""A lean HTTP/1.1 load client for the service benchmarks: keep-alive connections on asyncio.

httpx spends about 5 ms of CPU per small request here, more than the API it measures, and on a
2-core machine that CPU comes out of the server's share: its figures were the client's. This
client does what a load tool such as wrk does — one persistent connection per virtual client, a
request written as bytes, the response read by its Content-Length — for tens of microseconds a
request, and sends large bodies with `loop.sendfile` (zero-copy from the file when the transport
allows it).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; requests on it run one at a time."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.default_headers = {"Host": f"{self.host}:{self.port}", **headers}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    def _head(self, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
        lines = [f"{method} {path} HTTP/1.1"]
        for name, value in {**self.default_headers, **headers}.items():
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        assert self.writer is not None
        self.writer.write(self._head(method, path, headers or {}, len(body)) + body)
        return await self._reply()

    async def post_json(self, path: str, document: Any) -> Reply:
        body = json.dumps(document).encode()
        return await self.request("POST", path, body, {"Content-Type": "application/json"})

    async def send_file(self, path: str, file: Path, headers: dict[str, str]) -> Reply:
        """POST a file as the body, streamed by the event loop's sendfile."""
        assert self.writer is not None
        size = file.stat().st_size
        self.writer.write(self._head("POST", path, headers, size))
        await self.writer.drain()
        with open(file, "rb") as f:
            await asyncio.get_running_loop().sendfile(self.writer.transport, f)
        return await self._reply()

    async def _reply(self) -> Reply:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise RuntimeError(f"response without Content-Length: {status_line}")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return Reply(int(status_line.split(" ", 2)[1]), headers, body)
