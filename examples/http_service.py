"""An HTTP service under uvicorn, on spindle's event loop: an ordinary asyncio ASGI app.

Nothing in the app is spindle-specific; the loop is chosen on the command line:

    python -m uvicorn --loop spindle:new_event_loop --app-dir examples http_service:app

    curl http://127.0.0.1:8000/              {"hello": "world", "on_spindle": true, ...}
    curl http://127.0.0.1:8000/wait?s=0.5    answers after 0.5 s; other requests go on meanwhile

uvicorn (0.36 and later) takes a ``--loop`` value that is not one of its own names as
``module:callable`` and makes its loop with that callable.  ``python examples/http_service.py``
does the same from Python, through ``uvicorn.run(..., loop="spindle:new_event_loop")``.
"""

import asyncio
import json
import sys
from urllib.parse import parse_qs

served = 0


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        status, body = await respond(scope["path"], parse_qs(scope["query_string"].decode()))
        await send_json(send, status, body)


async def respond(path, query):
    global served
    served += 1
    if path == "/":
        loop = asyncio.get_running_loop()
        return 200, {
            "hello": "world",
            "on_spindle": type(loop).__module__.startswith("spindle."),
            "tasks": len(asyncio.all_tasks()),
            "served": served,
        }
    if path == "/wait":
        seconds = float(query.get("s", ["1"])[0])
        await asyncio.sleep(seconds)
        return 200, {"waited": seconds}
    return 404, {"error": f"no such path: {path}"}


async def send_json(send, status, body):
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


if __name__ == "__main__":
    import uvicorn

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    uvicorn.run(app, host="127.0.0.1", port=port, loop="spindle:new_event_loop")
