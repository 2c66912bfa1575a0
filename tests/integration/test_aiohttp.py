"""aiohttp, unmodified, on spindle's loop: its web server and its client talking to each other.

The server is ``web.AppRunner`` + ``web.TCPSite`` on an ephemeral loopback port, so both ends
(aiohttp's server protocol and its client connector) run on spindle's transports: keep-alive,
request and response bodies larger than a socket buffer, ``FileResponse`` (``loop.sendfile``),
TLS, client timeouts and websockets with their close codes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.integration.conftest import loop_module, run_on_spindle
from tests.io.tls_support import PKI

pytestmark = pytest.mark.usefixtures("fd_guard")

BIG = os.urandom(3 * 1024 * 1024)  # several socket buffers' worth, in both directions


# What the handlers record, for the tests to check.
CLOSE_CODES = web.AppKey("close_codes", list[int | None])
PEERS = web.AppKey("peers", list[object])
CANCELLED = web.AppKey("cancelled", list[str])


async def info(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    request.app[PEERS].append(peer)
    return web.json_response({"loop": loop_module(), "q": request.query.get("q")})


async def digest(request: web.Request) -> web.Response:
    sha, size = hashlib.sha256(), 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        sha.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": sha.hexdigest()})


async def big(request: web.Request) -> web.Response:
    return web.Response(body=BIG)


async def slow(request: web.Request) -> web.Response:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        request.app[CANCELLED].append(request.path)
        raise
    return web.Response(text="too late")


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Echoes text upper-cased and binary reversed; "close" makes the server close with 4001."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "close":
            await ws.close(code=4001, message=b"server says bye")
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data.upper())
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    request.app[CLOSE_CODES].append(ws.close_code)
    return ws


@dataclass
class Served:
    url: str
    app: web.Application


@asynccontextmanager
async def serving(tmp_path: Path | None = None, pki: PKI | None = None) -> AsyncIterator[Served]:
    """Runs the test application; yields its base URL and the application."""
    app = web.Application(client_max_size=len(BIG) * 2)
    app[CLOSE_CODES] = []
    app[PEERS] = []
    app[CANCELLED] = []
    app.router.add_get("/info", info)
    app.router.add_post("/digest", digest)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/ws", websocket)
    if tmp_path is not None:
        app.router.add_static("/files", tmp_path)
    # A handler whose client went away is cancelled (aiohttp's default since 3.9 is to let it
    # run on, and the runner's cleanup then waits for it).
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    ssl_context = pki.server_context() if pki is not None else None
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
        port = runner.addresses[0][1]
        yield Served(f"{'https' if pki else 'http'}://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


def test_server_handles_concurrent_requests_and_keeps_connections_alive() -> None:
    async def main() -> tuple[list[object], int, list[object]]:
        async with serving() as served, aiohttp.ClientSession() as session:

            async def get(q: int) -> object:
                async with session.get(f"{served.url}/info", params={"q": q}) as response:
                    assert response.status == 200
                    return await response.json()

            bodies = [await get(q) for q in range(3)]  # one at a time: one connection, reused
            sequential_peers = served.app[PEERS].copy()
            bodies += await asyncio.gather(*(get(q) for q in range(20)))
            async with session.get(f"{served.url}/missing") as response:
                missing = response.status
            return bodies, missing, sequential_peers

    bodies, missing, peers = run_on_spindle(main())
    assert bodies == [{"loop": "spindle._io.loop", "q": str(q)} for q in [0, 1, 2, *range(20)]]
    assert missing == 404
    assert len(peers) == 3
    assert len(set(peers)) == 1


def test_large_bodies_travel_intact_both_ways() -> None:
    async def main() -> tuple[object, bytes]:
        async with serving() as served, aiohttp.ClientSession() as session:
            # A file-like body: aiohttp warns about (and blocks on) a large raw bytes body.
            async with session.post(f"{served.url}/digest", data=io.BytesIO(BIG)) as response:
                uploaded = await response.json()
            async with session.get(f"{served.url}/big") as response:
                downloaded = b"".join([c async for c in response.content.iter_chunked(65536)])
            return uploaded, downloaded

    uploaded, downloaded = run_on_spindle(main())
    assert uploaded == {"size": len(BIG), "sha256": hashlib.sha256(BIG).hexdigest()}
    assert downloaded == BIG


def test_file_response_is_sent_whole(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(BIG)

    async def main() -> bytes:
        async with (
            serving(tmp_path) as served,
            aiohttp.ClientSession() as session,
            session.get(f"{served.url}/files/data.bin") as response,
        ):
            assert response.status == 200
            return await response.read()

    assert run_on_spindle(main()) == BIG


def test_https_round_trip(pki: PKI) -> None:
    async def main() -> tuple[object, object]:
        client_context = pki.client_context()
        async with serving(pki=pki) as served, aiohttp.ClientSession() as session:
            async with session.get(f"{served.url}/info?q=tls", ssl=client_context) as response:
                body = await response.json()
            async with session.post(
                f"{served.url}/digest", data=io.BytesIO(BIG), ssl=client_context
            ) as response:
                return body, await response.json()

    body, uploaded = run_on_spindle(main())
    assert body == {"loop": "spindle._io.loop", "q": "tls"}
    assert uploaded == {"size": len(BIG), "sha256": hashlib.sha256(BIG).hexdigest()}


def test_client_timeout_cancels_the_server_handler_and_the_session_stays_usable() -> None:
    async def main() -> tuple[object, list[str]]:
        async with serving() as served, aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                timeout = aiohttp.ClientTimeout(total=0.05)
                async with session.get(f"{served.url}/slow", timeout=timeout):
                    pass
            async with session.get(f"{served.url}/info?q=after") as response:
                body = await response.json()
        return body, served.app[CANCELLED]

    body, cancelled = run_on_spindle(main())
    assert body == {"loop": "spindle._io.loop", "q": "after"}
    assert cancelled == ["/slow"]


def test_websocket_round_trip_with_close_codes_on_both_sides() -> None:
    async def main() -> tuple[list[object], list[int | None], list[int | None]]:
        received: list[object] = []
        client_codes: list[int | None] = []
        async with serving() as served, aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{served.url}/ws") as ws:
                for text in ("one", "two", "three"):
                    await ws.send_str(text)
                    received.append(await ws.receive_str())
                await ws.send_bytes(b"\x00\x01\x02")
                received.append(await ws.receive_bytes())
                await ws.send_str("close")  # the server closes: 4001 and its reason
                closing = await ws.receive()
                received.append((closing.type, closing.data, closing.extra))
            client_codes.append(ws.close_code)
            async with session.ws_connect(f"{served.url}/ws") as ws:
                await ws.send_str("ping")
                received.append(await ws.receive_str())
                await ws.close(code=4000, message=b"client says bye")  # the client closes
            client_codes.append(ws.close_code)
        # The server's handlers have finished once the runner is cleaned up.
        return received, client_codes, served.app[CLOSE_CODES]

    received, client_codes, server_codes = run_on_spindle(main())
    assert received == [
        "ONE", "TWO", "THREE", b"\x02\x01\x00",
        (aiohttp.WSMsgType.CLOSE, 4001, "server says bye"),
        "PING",
    ]  # fmt: skip
    # aiohttp's close_code is the code the peer sent (the same on asyncio's loop): the
    # initiator's code (4001 from the server, then 4000 from the client) reaches the other
    # side, and the answer to it is a plain 1000.
    assert client_codes == [4001, 1000]
    assert server_codes == [1000, 4000]
