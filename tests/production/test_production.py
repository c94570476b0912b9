"""Conversations across replicas, faults and shared limits in the production shape."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy.engine import make_url

from tcp_proxy import TcpProxy

TICKET_NO = re.compile(r"BA\d{8}-\d{4,}")


def test_the_shape_is_postgresql_redis_and_two_replicas_behind_nginx(production):
    assert make_url(production.tracker_url).get_backend_name() == "postgresql"
    assert production.env["REDIS_URL"].startswith("redis://127.0.0.1")
    assert len(production.replicas) == 2
    token = {"token": production.api_token}
    for base in production.replicas:  # the internal side: Rasa's API, with the run's token
        assert requests.get(f"{base}/status", params=token, timeout=10).status_code == 200
        assert requests.get(f"{base}/status", timeout=10).status_code == 401
    assert requests.get(f"{production.base}/status", params=token, timeout=10).status_code == 404
    assert requests.get(f"{production.base}/webhooks/rest/", timeout=10).json() == {"status": "ok"}
    site = (production.nginx_prefix / "site.conf").read_text(encoding="utf-8")
    assert all(f"server {u.split('//')[1]} " in site for u in production.replicas)


def test_lookup_started_on_one_replica_finishes_on_the_other(replicas, new_sender):
    s = new_sender("lookup")
    assert "后 4 位" in replicas[0].say(s, "帮我查下订单 ICP2026111200298")
    reply = replicas[1].say(s, "9999")
    assert "管局驳回" in reply


def test_ticket_form_alternating_replicas_creates_exactly_one_ticket(replicas, new_sender, tickets_of):
    s = new_sender("ticket")
    assert "描述" in replicas[0].say(s, "帮我提个工单")
    assert "联系方式" in replicas[1].say(s, "备案一直被驳回，想请人工看看具体原因")
    assert "确认" in replicas[0].say(s, "13812345678")
    created = replicas[1].say(s, "确认")
    [ticket_no] = tickets_of(s)
    assert ticket_no in created


def test_one_confirmation_sent_to_both_replicas_at_once_creates_one_ticket(replicas, new_sender, tickets_of):
    s = new_sender("double")
    replicas[0].say(s, "帮我提个工单")
    replicas[1].say(s, "管局审核超过二十个工作日了还没结果")
    replicas[0].say(s, "13812345678")
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda r: r.say(s, "确认"), replicas))
    stored = tickets_of(s)
    assert len(stored) == 1
    told = {n for reply in replies for n in TICKET_NO.findall(reply)}
    assert told == set(stored)  # whoever was told a number was told the stored one


def test_failed_lookups_are_limited_per_sender_across_replicas(replicas, new_sender):
    s = new_sender("enum-sender")
    # LOOKUP_MAX_FAILURES=2 per conversation, LOOKUP_RATE_LIMIT=4 per sender (conftest SETTINGS)
    for replica in replicas:
        replica.say(s, "查订单 ICP2026111200298")
        assert "对不上" in replica.say(s, "0000")
        replica.say(s, "ICP2026111200298")
        assert "暂停" in replica.say(s, "0001")  # the conversation is locked after 2
        replica.say(s, "/restart")  # a fresh conversation: slots reset, the database remembers
    replicas[0].say(s, "查订单 ICP2026111200298")
    reply = replicas[0].say(s, "9999")  # right digits, but this sender failed 4 times on two replicas
    assert "暂停" in reply and "管局驳回" not in reply


def test_guessing_one_orders_tail_from_many_senders_is_stopped_across_replicas(replicas, new_sender):
    order = "ICP2026110900462"
    for i, guess in enumerate(("0000", "0001", "0002")):  # LOOKUP_ORDER_RATE_LIMIT=3
        s = new_sender(f"enum-order-{i}")
        replicas[i % 2].say(s, f"查订单 {order}")
        assert "对不上" in replicas[(i + 1) % 2].say(s, guess)
    s = new_sender("owner")
    replicas[1].say(s, f"查订单 {order}")
    assert "暂停" in replicas[0].say(s, "8888")


def test_database_outage_during_ticket_confirmation(production, replicas, new_sender, tickets_of):
    url = make_url(production.database_url)
    proxy = TcpProxy(url.port or 5432)
    try:
        production.stop_actions()
        production.start_actions(DATABASE_URL=url.set(port=proxy.port).render_as_string(hide_password=False))
        s = new_sender("outage")
        replicas[0].say(s, "帮我提个工单")
        replicas[1].say(s, "短信核验一直收不到验证码")
        replicas[0].say(s, "13812345678")
        proxy.cut()
        failed = replicas[1].say(s, "确认")
        assert "热线" in failed and not TICKET_NO.search(failed) and "工单已提交" not in failed
        assert tickets_of(s) == []
        proxy.restore()
        created = replicas[0].say(s, "确认")
        [ticket_no] = tickets_of(s)
        assert ticket_no in created
    finally:
        proxy.close()
        production.stop_actions()
        production.start_actions()


def test_action_server_killed_mid_conversation(production, public, new_sender):
    s = new_sender("actions-down")
    assert "后 4 位" in public.say(s, "帮我查下订单 ICP2026111200298")
    production.stop_actions()
    try:
        reply = public.say(s, "9999")
        assert "热线" in reply  # an honest reply with the hotline, not silence
    finally:
        production.start_actions()
    assert public.say(new_sender("after"), "个人备案要准备什么材料")


def test_replica_killed_mid_form_nginx_fails_over_and_the_form_resumes(production, replicas, public, new_sender,
                                                                      tickets_of, served_by):
    s = new_sender("restart")
    replicas[0].say(s, "帮我提个工单")
    assert "联系方式" in replicas[0].say(s, "初审被驳回两次了，想让人看看")
    survivor = production.replicas[1].split("//")[1]
    production.kill_replica(0)  # SIGKILL: a crash
    try:
        tag = uuid.uuid4().hex[:10]
        during = [public.say(new_sender("meanwhile"), "管局审核要多久", tag=tag) for _ in range(6)]
        assert all(during)  # nginx keeps answering: no failed request while a replica is down
        served = served_by(tag)
        assert len(served) == 6 and all(tried[-1] == survivor for tried in served), served
        assert any(len(tried) == 2 for tried in served), served  # the dead one was tried, then skipped
    finally:
        production.start_replica(0)
    assert "确认" in replicas[0].say(s, "13812345678")  # the same form, one step on, on the new process
    created = replicas[0].say(s, "确认")
    [ticket_no] = tickets_of(s)
    assert ticket_no in created
