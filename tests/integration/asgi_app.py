"""The ASGI application the uvicorn test serves (uvicorn imports it as ``asgi_app:app``).

Every answer says which loop and which Task class ran it, so the test can prove that uvicorn
really served it on spindle's loop; lifespan events are written to stderr for the same reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def where() -> dict[str, object]:
    task = asyncio.current_task()
    return {
        "loop": type(asyncio.get_running_loop()).__module__,
        "task": type(task).__module__ if task is not None else None,
        "pid": os.getpid(),
    }


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        phase = message["type"].removeprefix("lifespan.")
        print(f"asgi-app: {phase} on {where()['loop']}", file=sys.stderr, flush=True)
        await send({"type": f"{message['type']}.complete"})
        if phase == "shutdown":
            return


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps({**where(), "path": scope["path"]}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
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
