"""Request body limits, enforced before the app reads a body.

A request whose `Content-Length` exceeds its route's limit gets 413 without a byte of its body
being read; one that streams past the limit (chunked) is cut off when it crosses it. A body in
a Content-Encoding (gzip, …) gets 415: it is neither `.npy` nor JSON as sent, and inflating it
would sidestep the limits.

Large JSON bodies are held in memory while they are received and parsed; the bytes of those in
flight at once are bounded, and one over that bound gets 503 with Retry-After before its body is
read (uploads stream to disk and are not counted; neither are bodies of a megabyte or less).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api.json_bodies import PARSE_INLINE_BYTES
from .api.problems import BodyTooLarge, problem_of
from .errors import Overloaded, PayloadTooLarge, UnsupportedMediaType

_UPLOAD_TYPES = (b"application/x-npy", b"application/octet-stream")


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        default: int,
        uploads: int,
        upload_path: str,
        in_flight_budget: int,
        retry_after_s: int = 1,
    ) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads
        self.upload_path = upload_path
        self.in_flight_budget = in_flight_budget
        self.retry_after_s = retry_after_s
        self.in_flight = 0  # bytes of the large JSON bodies being received or parsed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_upload = (
            scope["method"] == "POST"
            and scope["path"].rstrip("/") == self.upload_path
            and kind in _UPLOAD_TYPES
        )
        limit = self.uploads if is_upload else self.default
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            refused_encoding = UnsupportedMediaType(
                f"Content-Encoding {encoding.decode(errors='replace')!r} is not accepted: "
                "send the body uncompressed"
            )
            await problem_of(refused_encoding, scope["path"])(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            refused = PayloadTooLarge(
                f"Content-Length {length.decode(errors='replace')} exceeds the limit of "
                f"{limit} bytes",
                limit=limit,
            )
            # outside the app's exception handlers: answer here, with the same document
            await problem_of(refused, scope["path"])(scope, receive, send)
            return
        if is_upload:  # the upload route counts (and hashes) the stream itself
            await self.app(scope, receive, send)
            return
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        # a chunked body may be as large as the limit; with neither header there is no body
        held = int(length) if length is not None else limit if chunked else 0
        if held <= PARSE_INLINE_BYTES:
            await self._limited(scope, receive, send, limit)
            return
        if self.in_flight and self.in_flight + held > self.in_flight_budget:
            busy = Overloaded(
                f"{self.in_flight} bytes of large JSON bodies are being received; send this "
                f"one ({held} bytes) again shortly, or upload the matrix as .npy",
                retry_after=self.retry_after_s,
            )
            await problem_of(busy, scope["path"])(scope, receive, send)
            return
        self.in_flight += held
        try:
            await self._limited(scope, receive, send, limit)
        finally:
            self.in_flight -= held

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """The app, with a body that may not stream past `limit` bytes."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # raised inside the route: the handlers answer it
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
