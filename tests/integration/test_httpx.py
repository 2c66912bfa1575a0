"""httpx's AsyncClient, unmodified, on spindle's loop.

httpx does its I/O through httpcore on anyio, and anyio's asyncio backend leans on asyncio's
task machinery (current_task, cancel/uncancel, cancel scopes built on them) as much as on the
loop's sockets, so this checks spindle's Task as much as its transports.  The server is
``http_responder``, on spindle's own streams.  ``trust_env=False``: a proxy configured in the
environment must not stand between the client and the loopback server.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import anyio
import httpx
import pytest

from tests.integration import http_responder
from tests.integration.conftest import run_on_spindle
from tests.io.tls_support import PKI

pytestmark = pytest.mark.usefixtures("fd_guard")

T = TypeVar("T")
BODY = os.urandom(1024 * 1024)


def serve_and_run(
    work: Callable[[httpx.AsyncClient, str, http_responder.Responder], Awaitable[T]],
    pki: PKI | None = None,
) -> T:
    """Runs ``work(client, base_url, responder)`` on spindle with the responder serving."""

    async def main() -> T:
        responder = http_responder.Responder()
        server_ssl = pki.server_context() if pki is not None else None
        server, port = await http_responder.start(responder, ssl=server_ssl)
        verify = pki.client_context() if pki is not None else True
        scheme = "https" if pki is not None else "http"
        try:
            async with httpx.AsyncClient(trust_env=False, verify=verify) as client:
                return await work(client, f"{scheme}://127.0.0.1:{port}", responder)
        finally:
            server.close()
            await server.wait_closed()

    return run_on_spindle(main())


def test_requests_share_one_kept_alive_connection() -> None:
    async def work(client: httpx.AsyncClient, url: str, _: object) -> list[object]:
        return [(await client.get(f"{url}/info")).json() for _ in range(3)]

    assert serve_and_run(work) == [{"loop": "spindle._io.loop", "connection": 1}] * 3


def test_concurrent_requests_all_complete() -> None:
    async def work(client: httpx.AsyncClient, url: str, _: object) -> list[int]:
        responses = await asyncio.gather(*(client.get(f"{url}/info") for _ in range(25)))
        assert all(r.json()["loop"] == "spindle._io.loop" for r in responses)
        return [r.status_code for r in responses]

    assert serve_and_run(work) == [200] * 25


def test_streaming_response_arrives_chunk_by_chunk() -> None:
    async def work(client: httpx.AsyncClient, url: str, _: object) -> list[str]:
        async with client.stream("GET", f"{url}/stream") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            return [line async for line in response.aiter_lines()]

    expected = [chunk.decode().rstrip("\n") for chunk in http_responder.CHUNKS]
    assert serve_and_run(work) == expected


def test_streaming_upload_and_plain_upload_arrive_intact() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for start in range(0, len(BODY), 100_000):
            yield BODY[start : start + 100_000]

    async def work(client: httpx.AsyncClient, url: str, _: object) -> list[object]:
        plain = await client.post(f"{url}/digest", content=BODY)
        streamed = await client.post(f"{url}/digest", content=parts())  # chunked encoding
        return [plain.json(), streamed.json()]

    expected = {"size": len(BODY), "sha256": hashlib.sha256(BODY).hexdigest()}
    assert serve_and_run(work) == [expected, expected]


def test_https_request(pki: PKI) -> None:
    async def work(client: httpx.AsyncClient, url: str, _: object) -> object:
        response = await client.post(f"{url}/digest", content=BODY)
        assert response.http_version == "HTTP/1.1"
        return response.json()

    expected = {"size": len(BODY), "sha256": hashlib.sha256(BODY).hexdigest()}
    assert serve_and_run(work, pki) == expected


def test_read_timeout_raises_and_the_client_stays_usable() -> None:
    async def work(client: httpx.AsyncClient, url: str, _: object) -> object:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{url}/silent", timeout=0.05)
        return (await client.get(f"{url}/info")).json()

    # The timed-out request's connection was dropped, so the next one opened a second.
    assert serve_and_run(work) == {"loop": "spindle._io.loop", "connection": 2}


def test_cancelling_a_request_task_or_an_anyio_scope_abandons_the_request() -> None:
    async def work(
        client: httpx.AsyncClient, url: str, responder: http_responder.Responder
    ) -> tuple[bool, list[str]]:
        request = asyncio.create_task(client.get(f"{url}/silent"))
        events = [await responder.silences.get()]
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        events.append(await responder.silences.get())  # httpcore dropped the connection
        with anyio.move_on_after(0.05) as scope:
            await client.get(f"{url}/silent")
        events += [await responder.silences.get(), await responder.silences.get()]
        return scope.cancelled_caught, events

    assert serve_and_run(work) == (True, ["waiting", "abandoned"] * 2)
