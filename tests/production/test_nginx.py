"""Through nginx, the public side of the production shape (the shipped deploy/nginx.conf, real
replicas): round robin, sticky socket.io with the websocket upgrade, the body limit, the
per-address request limit, one sender's parallel messages serialised by the Redis lock, and a
probe of the public port: Rasa's HTTP API is refused there, the webhooks answer.

Which replica served a request is read from nginx's own access log ($upstream_addr)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import requests

from bot import nginx, serve

from listening import listening_addresses


def _hostport(url: str) -> str:
    return url.split("//", 1)[1]


def wait_for_log(production, needle: str, count: int, timeout: float = 5) -> list:
    """nginx's access-log lines containing `needle`, once there are `count` (a line is written just
    after its response has left)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in production.access_log() if needle in r["request"]]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_everything_listens_on_loopback_only(production):
    ports = [int(u.rsplit(":", 1)[1]) for u in production.replicas + [production.base]] + [production.actions_port]
    for port in ports:
        assert listening_addresses(port) == {"127.0.0.1"}, port


def test_rest_webhook_requests_go_round_robin(production, public, served_by, new_sender):
    tag = uuid.uuid4().hex[:10]
    for i in range(6):
        assert public.say(new_sender(f"rr{i}"), "备案有问题打什么电话", tag=tag)
    served = [tried[-1] for tried in served_by(tag, expect=6)]
    assert len(served) == 6
    assert all(a != b for a, b in zip(served, served[1:])), served  # turns, not one replica
    assert Counter(served) == {_hostport(u): 3 for u in production.replicas}


# --- socket.io: sticky by client address, websocket upgrade --------------------------------------

class EngineIO:
    """The widget's socket.io conversation spoken by hand (engine.io 4 over aiohttp, from a chosen
    client address): python-socketio's own client would wait out a 30 s long poll on each
    disconnect, and its websocket transport needs a newer aiohttp than Rasa pins."""

    def __init__(self, base: str, local_address: str):
        self.url = f"{base}/socket.io/"
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local_address, 0)),
                                          timeout=aiohttp.ClientTimeout(total=30))
        self.sid = ""

    async def open(self) -> None:
        async with self.http.get(self.url, params={"EIO": "4", "transport": "polling"}) as r:
            assert r.status == 200, await r.text()
            self.sid = json.loads((await r.text())[1:])["sid"]
        await self.send("40")
        assert (await self.receive())[0].startswith("40")

    async def send(self, *packets: str) -> None:
        async with self.http.post(self.url, params={"EIO": "4", "transport": "polling", "sid": self.sid},
                                  data="\x1e".join(packets).encode()) as r:
            assert r.status == 200, await r.text()

    async def receive(self) -> list:
        async with self.http.get(self.url, params={"EIO": "4", "transport": "polling", "sid": self.sid}) as r:
            assert r.status == 200, await r.text()
            return (await r.text()).split("\x1e")

    async def event(self, name: str, timeout: float = 30) -> object:
        """Poll until the server emits `name`; its data."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for packet in await self.receive():
                if packet.startswith("42"):
                    event, *data = json.loads(packet[2:])
                    if event == name:
                        return data[0] if data else None
        raise AssertionError(f"no {name} event")

    async def close(self) -> None:
        with contextlib.suppress(aiohttp.ClientError, AssertionError):
            await self.send("1")
        await self.http.close()


def _emit(name: str, data: dict) -> str:
    return "42" + json.dumps([name, data], ensure_ascii=False)


async def _socketio_turn(base: str, local_address: str, text: str) -> str:
    """One widget turn over socket.io's polling transport from `local_address`: the bot's reply."""
    client, session_id = EngineIO(base, local_address), f"prod-sio-{uuid.uuid4().hex[:8]}"
    try:
        await client.open()
        await client.send(_emit("session_request", {"session_id": session_id}))
        assert await client.event("session_confirm") == session_id
        await client.send(_emit("user_uttered", {"message": text, "session_id": session_id}))
        return (await client.event("bot_uttered")).get("text", "")
    finally:
        await client.close()


async def _websocket_turn(base: str, text: str) -> str:
    """Polling first, then the upgrade to a websocket (as the widget's client does); the reply to
    `text` sent over the websocket."""
    client, session_id = EngineIO(base, "127.0.0.1"), f"prod-ws-{uuid.uuid4().hex[:8]}"
    try:
        await client.open()
        ws_url = base.replace("http", "ws", 1) + f"/socket.io/?EIO=4&transport=websocket&sid={client.sid}"
        async with client.http.ws_connect(ws_url) as ws:
            await ws.send_str("2probe")
            assert (await ws.receive_str(timeout=10)) == "3probe"
            await ws.send_str("5")  # upgrade: polling is over for this session
            await ws.send_str(_emit("session_request", {"session_id": session_id}))
            await ws.send_str(_emit("user_uttered", {"message": text, "session_id": session_id}))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                packet = await ws.receive_str(timeout=30)
                if packet.startswith("42"):
                    event, *data = json.loads(packet[2:])
                    if event == "bot_uttered":
                        return data[0].get("text", "")
            raise AssertionError("no reply over the websocket")
    finally:
        await client.http.close()


def test_socketio_is_sticky_per_client_address_and_upgrades_to_websocket(production):
    # nginx's ip_hash keys on the first three octets of an IPv4 address: 127.0.k.1 are 8 clients.
    addresses = [f"127.0.{k}.1" for k in range(1, 9)]
    for address in addresses:  # the polling transport: every request of a session on its replica
        assert "950808" in asyncio.run(_socketio_turn(production.base, address, "备案有问题打什么电话"))
    time.sleep(0.2)  # the last lines reach the access log
    by_client = defaultdict(set)
    for row in production.access_log():
        if row["request"].split(" ")[1].startswith("/socket.io/") and row["remote"] in addresses:
            by_client[row["remote"]].add(row["upstreams"][-1])
    assert set(by_client) == set(addresses)
    assert all(len(replicas) == 1 for replicas in by_client.values()), dict(by_client)  # sticky
    assert set().union(*by_client.values()) == {_hostport(u) for u in production.replicas}  # yet spread

    assert asyncio.run(_websocket_turn(production.base, "个人备案要准备什么材料"))  # through nginx's Upgrade
    upgrades = wait_for_log(production, "transport=websocket", 1)  # logged once both sides closed it
    assert upgrades and upgrades[-1]["status"] == 101


# --- limits -------------------------------------------------------------------------------------------

def test_an_oversized_body_is_refused_with_413_before_any_replica(production):
    url = f"{production.base}/webhooks/rest/webhook"
    tag = uuid.uuid4().hex[:10]
    near = requests.post(f"{url}?t={tag}-near", data=b"x" * 200_000, headers={"Content-Type": "application/json"},
                         timeout=30)
    assert near.status_code == 400  # under the limit: Rasa's REST channel saw it (not JSON)
    over = requests.post(f"{url}?t={tag}-over", data=b"x" * 300_000, headers={"Content-Type": "application/json"},
                         timeout=30)
    assert over.status_code == 413
    log = {r["request"].split(" ")[1]: r for r in wait_for_log(production, tag, 2)}
    assert log[f"/webhooks/rest/webhook?t={tag}-near"]["upstreams"]
    assert log[f"/webhooks/rest/webhook?t={tag}-over"]["upstreams"] == []


def test_a_flood_from_one_address_gets_429_with_the_shipped_limits(production, tmp_path):
    """A second nginx, with the shipped per-address limits (10 r/s, burst 40), in front of the same
    replicas: 120 requests at once from 127.0.0.1 are cut to about the burst; another address is
    not affected; the flooding address is served again a moment later."""
    port = serve.free_port()
    replica_ports = [int(u.rsplit(":", 1)[1]) for u in production.replicas]
    front = nginx.start(port, replica_ports, prefix=tmp_path / "nginx")  # limits=None: the shipped ones
    try:
        url = f"http://127.0.0.1:{port}/webhooks/rest/"
        assert serve.wait_http(url, 10)

        def get(_):
            return requests.get(url, timeout=10).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = Counter(pool.map(get, range(120)))
        elapsed = time.monotonic() - started
        allowed = 40 + int(10 * elapsed) + 2  # the burst, what the rate refilled meanwhile, rounding
        assert set(statuses) == {200, 429}, statuses
        assert 40 <= statuses[200] <= allowed, (statuses, elapsed)
        other = aiohttp_get(url, "127.0.0.2")
        assert other == 200  # per address: someone else is still served
        time.sleep(1.0)
        assert requests.get(url, timeout=10).status_code == 200  # a rate, not a ban
    finally:
        serve.stop([front])


def aiohttp_get(url: str, local_address: str) -> int:
    async def go() -> int:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local_address, 0))) as s:
            async with s.get(url) as r:
                return r.status

    return asyncio.run(go())


# --- one sender, messages in parallel: the Redis lock -----------------------------------------------

QUESTIONS = ["备案有问题打什么电话", "个人备案要准备什么材料", "管局审核要多久", "备案需要多长时间",
             "域名需要实名认证吗", "备案可以撤销吗", "营业执照要原件吗", "网站负责人可以换吗"]


def test_one_senders_parallel_messages_are_processed_one_at_a_time_in_order(production, public, served_by,
                                                                             new_sender):
    """Eight messages of one sender sent at the same moment, each on its own connection: nginx
    spreads them over both replicas. Rasa's lock on Redis (a ticket per message, served in turn)
    must process them one at a time: the tracker holds each message once, each followed by its
    own replies and nothing else, in the order the replies came back. Against Rasa's RedisLockStore
    as shipped this lost 1 to 3 of the 8 turns in 7 runs of 8 (bot.storage.rasa_stores.EnvLockStore
    says why and what fixed it)."""
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:  # warm: open nginx's keepalive connections to
        list(pool.map(lambda i: public.say(new_sender("warm"), "你好"), range(len(QUESTIONS))))  # both replicas
    sender, tag = new_sender("parallel"), uuid.uuid4().hex[:10]
    replies, timings = {}, {}
    start = threading.Barrier(len(QUESTIONS))

    def send(i: int) -> None:
        start.wait()
        sent = time.monotonic()
        replies[i] = public.say(sender, QUESTIONS[i], tag=tag)
        timings[i] = (sent, time.monotonic())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(replies) == list(range(len(QUESTIONS))) and all(replies.values())  # nothing lost
    assert len({tried[-1] for tried in served_by(tag, expect=len(QUESTIONS))}) == 2  # both replicas took some
    overlapping = sum(1 for i in range(1, len(QUESTIONS)) if timings[i][0] < timings[i - 1][1])
    assert overlapping >= len(QUESTIONS) // 2, timings  # they really were in flight together

    tracker = requests.get(f"{production.replicas[0]}/conversations/{sender}/tracker",
                           params={"token": production.api_token}, timeout=10).json()
    turns: list = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append([event["text"], []])
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
    answered = sorted(range(len(QUESTIONS)), key=lambda i: timings[i][1])
    assert [text for text, _ in turns] == [QUESTIONS[i] for i in answered]  # each once, one after another
    for i, (_, said) in zip(answered, turns):
        assert "\n".join(said) == replies[i]  # each reply belongs to its own message: no interleaving


# --- the public port ----------------------------------------------------------------------------------

S = "prod-probe-sender"
API_ROUTES = [  # Rasa's HTTP API (rasa/server.py); destructive ones carry a wrong token
    ("GET", "/"), ("GET", "/version"), ("GET", "/status"), ("GET", "/domain"),
    ("GET", f"/conversations/{S}/tracker"), ("GET", f"/conversations/{S}/story"),
    ("POST", f"/conversations/{S}/tracker/events"), ("PUT", f"/conversations/{S}/tracker/events?token=wrong"),
    ("POST", f"/conversations/{S}/messages"), ("POST", f"/conversations/{S}/predict"),
    ("POST", f"/conversations/{S}/execute"), ("POST", f"/conversations/{S}/trigger_intent"),
    ("POST", "/model/parse"), ("PUT", "/model?token=wrong"), ("DELETE", "/model?token=wrong"),
    ("POST", "/model/train?token=wrong"), ("POST", "/model/test/intents?token=wrong"),
    ("POST", "/model/test/stories?token=wrong"),
    # the same, dressed up as public paths (nginx resolves dot segments and slashes first)
    ("GET", "/webhooks/../status"), ("GET", "/webhooks/%2e%2e/status"), ("GET", "//status"),
    ("GET", f"/socket.io/../conversations/{S}/tracker"), ("GET", "/webhooks/rest/..%2F..%2Fstatus"),
]


def test_the_public_port_refuses_rasas_api_and_answers_the_webhooks(production, new_sender):
    token = production.api_token
    internal = production.replicas[0]
    # The internal side has these routes (so a 404 on the public side is nginx refusing, not absence).
    assert requests.get(f"{internal}/", timeout=10).status_code == 200
    assert requests.get(f"{internal}/version", timeout=10).status_code == 200
    for path in ("/status", f"/conversations/{S}/tracker", "/domain"):
        assert requests.get(f"{internal}{path}", params={"token": token}, headers={"Accept": "application/json"},
                            timeout=10).status_code == 200, path
    assert requests.post(f"{internal}/model/parse", params={"token": token}, json={"text": "你好"},
                         timeout=10).status_code == 200

    tag = uuid.uuid4().hex[:10]
    refused = {}
    for method, path in API_ROUTES:  # with the right token even: the public side has no API
        sep = "&" if "?" in path else "?"
        query = f"t={tag}" if "token=" in path else f"token={token}&t={tag}"
        r = requests.request(method, f"{production.base}{path}{sep}{query}", json={"text": "你好"},
                             headers={"Accept": "application/json"}, timeout=10)
        refused[(method, path)] = r.status_code
    assert {k: v for k, v in refused.items() if v not in (403, 404)} == {}
    logged = wait_for_log(production, f"t={tag}", len(API_ROUTES))
    assert len(logged) == len(API_ROUTES) and [r for r in logged if r["upstreams"]] == []  # none reached a replica

    answers = {
        "rest": requests.post(f"{production.base}/webhooks/rest/webhook",
                              json={"sender": new_sender("probe"), "message": "备案有问题打什么电话"}, timeout=30),
        "widget page": requests.get(f"{production.base}/webhooks/web/", timeout=10),
        "widget script": requests.get(f"{production.base}/webhooks/web/widget.js", timeout=10),
        "copilot page": requests.get(f"{production.base}/webhooks/copilot/", timeout=10),
        "socket.io": requests.get(f"{production.base}/socket.io/", params={"EIO": "4", "transport": "polling"},
                                  timeout=10),
    }
    assert {k: r.status_code for k, r in answers.items()} == {k: 200 for k in answers}
    assert "950808" in answers["rest"].json()[0]["text"]
    assert '"sid"' in answers["socket.io"].text
    wechat = requests.get(f"{production.base}/webhooks/wechat/webhook",
                          params={"signature": "0" * 40, "timestamp": "1", "nonce": "1", "echostr": "x",
                                  "t": tag + "-wechat"}, timeout=10)
    assert wechat.status_code != 404  # the WeChat channel itself answered (a forged signature: refused)
    assert wait_for_log(production, f"{tag}-wechat", 1)[0]["upstreams"]
