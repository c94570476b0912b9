"""The loopback balancer: round robin, failover only when nothing was sent, sticky socket.io,
websocket relay; against real aiohttp servers on 127.0.0.1."""
from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from aiohttp import web

from bot.balancer import Balancer, app


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _upstream(name: str, hits: list, port: int) -> web.AppRunner:
    async def any_route(request: web.Request) -> web.StreamResponse:
        hits.append((name, request.path, await request.text()))
        if request.path == "/die":
            request.transport.close()  # the replica dies after the request reached it
            await asyncio.sleep(1)
        return web.json_response({"replica": name, "q": request.query_string},
                                 headers={"X-Replica": name})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str(f"{name}:{msg.data}")
        return sock

    application = web.Application()
    application.router.add_get("/socket.io/ws", ws)
    application.router.add_route("*", "/{tail:.*}", any_route)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest.fixture
async def farm():
    hits: list = []
    ports = [_port(), _port()]
    runners = [await _upstream(f"r{i + 1}", hits, p) for i, p in enumerate(ports)]
    lb_port = _port()
    lb = web.AppRunner(app([f"http://127.0.0.1:{p}" for p in ports]))
    await lb.setup()
    await web.TCPSite(lb, "127.0.0.1", lb_port).start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session, f"http://127.0.0.1:{lb_port}", runners, hits
    await lb.cleanup()
    for r in runners:
        await r.cleanup()


async def test_round_robin_and_body_and_query_pass_through(farm):
    session, base, _, hits = farm
    seen = []
    for i in range(4):
        async with session.post(f"{base}/webhooks/rest/webhook?x={i}", data=f"body{i}") as r:
            assert r.status == 200
            body = await r.json()
            seen.append(body["replica"])
            assert body["q"] == f"x={i}" and r.headers["X-Replica"] == body["replica"]
    assert sorted(seen) == ["r1", "r1", "r2", "r2"]
    assert [h[2] for h in hits] == ["body0", "body1", "body2", "body3"]


async def test_a_replica_that_refuses_connections_is_skipped(farm):
    session, base, runners, _ = farm
    await runners[0].cleanup()  # r1 goes away
    for _ in range(4):
        async with session.get(f"{base}/status") as r:
            assert r.status == 200 and (await r.json())["replica"] == "r2"


async def test_a_request_that_reached_a_dying_replica_is_not_sent_again(farm):
    session, base, _, hits = farm
    async with session.post(f"{base}/die", data="turn") as r:
        assert r.status == 502
    assert len([h for h in hits if h[1] == "/die"]) == 1  # a chat turn must never run twice


async def test_all_replicas_down_is_a_503(farm):
    session, base, runners, _ = farm
    for r in runners:
        await r.cleanup()
    async with session.get(f"{base}/status") as r:
        assert r.status == 503


async def test_socketio_is_sticky_by_client_and_websockets_are_relayed(farm):
    session, base, _, _ = farm
    replicas = set()
    for _ in range(4):
        async with session.get(f"{base}/socket.io/?EIO=4&transport=polling") as r:
            replicas.add((await r.json())["replica"])
    assert len(replicas) == 1
    async with session.ws_connect(f"{base.replace('http', 'ws')}/socket.io/ws") as ws:
        await ws.send_str("hello")
        reply = await ws.receive_str()
    assert reply == f"{replicas.pop()}:hello"


def test_order_prefers_healthy_replicas():
    lb = Balancer(["http://a", "http://b"])
    lb.mark_down("http://a")
    assert [lb.order()[0] for _ in range(4)] == ["http://b"] * 4
    with pytest.raises(ValueError):
        Balancer([])
