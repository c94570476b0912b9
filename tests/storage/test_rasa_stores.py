"""The tracker and lock stores chosen from the environment are Rasa's own, on the right backend."""
import asyncio
import uuid

import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import ROOT
from bot.storage.rasa_stores import EnvLockStore, EnvSQLTrackerStore, redis_lock_settings, tracker_store_url


def test_default_tracker_store_is_sqlite_under_var():
    assert tracker_store_url({}) == f"sqlite:///{ROOT / 'var' / 'tracker.db'}"


def test_tracker_store_url_from_env_keeps_postgres_url():
    url = "postgresql://postgres@127.0.0.1:5432/beian"
    assert tracker_store_url({"TRACKER_STORE_URL": url}) == url


def test_redis_url_parsed_for_rasa_lock_store():
    assert redis_lock_settings("redis://:s3cret@10.0.0.5:6380/2") == {
        "host": "10.0.0.5", "port": 6380, "db": 2, "username": None, "password": "s3cret",
        "use_ssl": False, "key_prefix": "beian"}
    with pytest.raises(ValueError):
        redis_lock_settings("10.0.0.5:6379")


def test_lock_store_in_memory_without_redis_url():
    assert isinstance(EnvLockStore(env={}).inner, InMemoryLockStore)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tracker_store_saves_and_reloads_a_conversation(backend, tmp_path, monkeypatch, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 't.db'}"
    else:
        url = request.getfixturevalue("pg_databases")().render_as_string(hide_password=False)
    monkeypatch.setenv("TRACKER_STORE_URL", url)
    store = EnvSQLTrackerStore(domain=None)
    sender = f"s-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker.from_events(sender, [UserUttered("你好", {"name": "greet", "confidence": 1.0})])
    asyncio.run(store.save(tracker))
    again = asyncio.run(EnvSQLTrackerStore(domain=None).retrieve(sender))
    assert again is not None and again.latest_message.text == "你好"
    assert str(store.engine.url.get_backend_name()) == backend


def test_redis_lock_store_shared_between_two_replicas(redis_url):
    one, two = EnvLockStore(env={"REDIS_URL": redis_url}), EnvLockStore(env={"REDIS_URL": redis_url})
    assert isinstance(one.inner, RedisLockStore)
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    lock = one.create_lock(conversation)
    ticket = lock.issue_ticket(30)
    one.save_lock(lock)
    seen = two.get_lock(conversation)  # what another replica sees: the same ticket queue
    assert seen is not None and seen.last_issued == ticket and seen.is_someone_waiting()
    two.delete_lock(conversation)
    assert one.get_lock(conversation) is None


def _issue_from_two_replicas(stores: list, conversation: str, per_store: int = 25) -> list:
    """Tickets issued for one conversation by `stores` (one per replica) from threads at once."""
    import threading

    tickets: list = []
    start = threading.Barrier(len(stores) * 2)

    def issue(store) -> None:
        start.wait()
        for _ in range(per_store):
            tickets.append(store.issue_ticket(conversation, 30))

    threads = [threading.Thread(target=issue, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return tickets


def test_tickets_issued_by_two_replicas_at_once_are_all_different(redis_url):
    """Rasa's own RedisLockStore reads, changes and writes a lock back: replicas issuing tickets at
    the same moment hand out the same number twice (two messages processed at once). EnvLockStore
    does each change under a Redis mutex."""
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    stores = [EnvLockStore(env={"REDIS_URL": redis_url}) for _ in range(2)]
    try:
        tickets = _issue_from_two_replicas(stores, conversation)
        assert len(tickets) == 100 and sorted(tickets) == list(range(100))
        for ticket in tickets:
            stores[ticket % 2].cleanup(conversation, ticket)
        assert stores[0].get_lock(conversation) is None  # the last cleanup removed the lock
    finally:
        stores[0].delete_lock(conversation)


def test_rasas_own_redis_lock_store_does_hand_out_a_ticket_twice(redis_url):
    """Why the mutex is there: the same race against Rasa's RedisLockStore as it ships."""
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    stores = [RedisLockStore(**redis_lock_settings(redis_url)) for _ in range(2)]
    try:
        tickets = _issue_from_two_replicas(stores, conversation)
        assert len(set(tickets)) < len(tickets)
    finally:
        stores[0].delete_lock(conversation)
