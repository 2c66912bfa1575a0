"""The ASGI application the server tests serve (uvicorn and gunicorn import it as ``asgi_app:app``).

Every answer says which loop class and which Task class ran it, in which process, so a test can
prove that a server really served it on spindle's loop (and, with several worker processes,
which worker answered); lifespan events are written to stderr for the same reason.

``/hold`` answers its first line at once and then blocks its worker's loop for ``HOLD_SECONDS``
on purpose (``time.sleep``): while it does, that worker cannot accept, so the next connection a
test makes is accepted by another worker.  That is how the multi-process tests reach every
worker without depending on how the kernel happens to spread connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOLD_SECONDS = 1.0


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def where() -> dict[str, object]:
    task = asyncio.current_task()
    return {
        "loop": qualified_name(type(asyncio.get_running_loop())),
        "task": qualified_name(type(task)) if task is not None else None,
        "pid": os.getpid(),
    }


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        phase = message["type"].removeprefix("lifespan.")
        here = where()
        # One write for the whole line: the workers of a server share this stderr.
        sys.stderr.write(f"asgi-app: {phase} on {here['loop']} in {here['pid']}\n")
        sys.stderr.flush()
        await send({"type": f"{message['type']}.complete"})
        if phase == "shutdown":
            return


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps({**where(), "path": scope["path"]}).encode() + b"\n"
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/hold":
        await send({"type": "http.response.body", "body": body, "more_body": True})
        time.sleep(HOLD_SECONDS)  # blocks this worker on purpose: see the module docstring
        body = b""
    await send({"type": "http.response.body", "body": body})


async def websocket(receive: Receive, send: Send) -> None:
    """Accepts, then answers each text message with it reversed, until the client closes."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"][::-1]})
        else:  # websocket.disconnect
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    else:
        await websocket(receive, send)
