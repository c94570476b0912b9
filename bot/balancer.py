"""A small loopback HTTP load balancer for the production shape on one machine (`make prod`).

Production puts any HTTP load balancer (nginx, a cloud LB) in front of the Rasa replicas; this one
exists so that the tests and the load benchmark exercise the same shape here. Requests go round
robin; socket.io is sticky by client address (its polling transport keeps per-replica session
state, as with nginx's `ip_hash`), and its websocket upgrade is relayed. A replica that refuses the
connection is skipped and retried later, so a restarting replica costs no failed request; a request
that was already sent is never sent again (a chat turn must not run twice): it gets a 502.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from typing import Dict, List, Optional, Sequence

import aiohttp
from aiohttp import web

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade", "host", "content-length"})
DOWN_SECONDS = 2.0  # how long a replica that refused a connection is skipped
MAX_BODY = 1024 * 1024


class Balancer:
    """Round robin over `upstreams` (base URLs), skipping replicas that refuse connections."""

    def __init__(self, upstreams: Sequence[str], timeout: float = 60.0):
        if not upstreams:
            raise ValueError("at least one upstream")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self._turn = itertools.cycle(range(len(self.upstreams)))
        self._down_until: Dict[str, float] = {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    def order(self, sticky_key: Optional[str] = None) -> List[str]:
        """Upstreams to try, first choice first: healthy ones, then the ones marked down."""
        n = len(self.upstreams)
        if sticky_key is None:
            first = next(self._turn)
        else:
            first = int(hashlib.sha1(sticky_key.encode()).hexdigest(), 16) % n
        ring = [self.upstreams[(first + i) % n] for i in range(n)]
        now = time.monotonic()
        return sorted(ring, key=lambda u: self._down_until.get(u, 0) > now)

    def mark_down(self, upstream: str) -> None:
        self._down_until[upstream] = time.monotonic() + DOWN_SECONDS

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False,
                                                  connector=aiohttp.TCPConnector(limit=200))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sticky = request.remote if request.path.startswith("/socket.io") else None
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, self.order(sticky))
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        session = await self.session()
        for upstream in self.order(sticky):
            try:
                async with session.request(request.method, upstream + request.path_qs, headers=headers,
                                           data=body, allow_redirects=False) as upstream_response:
                    payload = await upstream_response.read()
                    out = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}
                    return web.Response(status=upstream_response.status, body=payload, headers=out)
            except aiohttp.ClientConnectorError:
                self.mark_down(upstream)  # nothing was sent: safe to try the next replica
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.warning("upstream %s failed mid-request: %s", upstream, type(exc).__name__)
                return web.Response(status=502, text="upstream failed")
        return web.Response(status=503, text="no replica available")

    async def _websocket(self, request: web.Request, upstreams: List[str]) -> web.StreamResponse:
        session = await self.session()
        for upstream in upstreams:
            try:
                remote = await session.ws_connect(upstream.replace("http", "ws", 1) + request.path_qs)
            except aiohttp.ClientConnectorError:
                self.mark_down(upstream)
                continue
            except aiohttp.ClientError:
                return web.Response(status=502, text="upstream refused the websocket")
            local = web.WebSocketResponse()
            await local.prepare(request)
            await asyncio.gather(_pipe(local, remote), _pipe(remote, local))
            return local
        return web.Response(status=503, text="no replica available")


async def _pipe(source, sink) -> None:
    """Copy websocket frames one way until either side closes."""
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break
    await sink.close()


def app(upstreams: Sequence[str]) -> web.Application:
    balancer = Balancer(upstreams)
    application = web.Application(client_max_size=MAX_BODY)
    application.router.add_route("*", "/{tail:.*}", balancer.handle)

    async def _close(_: web.Application) -> None:
        await balancer.close()

    application.on_cleanup.append(_close)
    return application


def main(port: int, upstreams: Sequence[str], host: str = "127.0.0.1") -> None:
    """Serve until SIGINT/SIGTERM (`python -m bot.balancer PORT URL...`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s balancer %(message)s")
    web.run_app(app(upstreams), host=host, port=port, print=None, access_log=None)


if __name__ == "__main__":
    import sys

    main(int(sys.argv[1]), sys.argv[2:])
