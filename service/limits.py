"""A request body size limit: a larger body is refused with 413 before the app reads it.

A declared Content-Length over the limit is refused at once. A body without one (chunked) is read
here first, up to the limit, and refused as soon as it passes it; otherwise it is handed on. So no
route ever holds more than the limit in memory.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with the API's error shape."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        buffered, size = [], 0
        while True:  # no declared length: read the body here, at most max_bytes of it
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(buffered)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": {
            "status": 413, "code": "request_too_large",
            "message": f"the request body is over the limit of {self.max_bytes:,} bytes",
            "hint": "send fewer ids, or split the request"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
