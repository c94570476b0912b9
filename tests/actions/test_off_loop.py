"""A slow database delays only the action that waits for it, never the action server's loop."""
import asyncio
import time

from rasa_sdk.executor import ActionExecutor
from sqlalchemy import event

from bot.storage.db import get_engine

DELAY = 1.5


def request(action, text, intent, slots=None, entities=(), ranking=()):
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99},
              "intent_ranking": [{"name": intent, "confidence": 0.99}], "entities": list(entities),
              "response_selector": {"faq": {"ranking": [
                  {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}}}
    return {"next_action": action, "sender_id": f"s-{action}", "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": f"s-{action}", "slots": slots or {}, "latest_message": latest,
                        "events": [{"event": "user", "text": text, "parse_data": latest}],
                        "paused": False, "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen"}}


async def both(executor):
    """Start the urge action (its order read stalls), then an FAQ answer; when does each finish?"""
    done = {}

    async def timed(name, payload):
        await executor.run(payload)
        done[name] = time.perf_counter() - start

    start = time.perf_counter()
    slow = asyncio.create_task(timed("urge", request("action_urge", "能加急吗", "urge",
                                                     slots={"verified_order": "ICP2026111200298"})))
    await asyncio.sleep(0.05)  # the urge action is now waiting for the database
    await timed("faq", request("action_answer_faq", "个人备案要什么材料", "faq",
                               ranking=[("materials_individual", 0.95)]))
    await slow
    return done


def test_a_slow_database_does_not_delay_an_faq_answer(app_database):
    def stall(*_args):
        time.sleep(DELAY)  # the driver call blocks, as a slow or locked database does

    executor = ActionExecutor()
    executor.register_package("actions")
    engine = get_engine()
    event.listen(engine, "before_cursor_execute", stall)
    try:
        done = asyncio.run(both(executor))
    finally:
        event.remove(engine, "before_cursor_execute", stall)
    assert done["urge"] >= DELAY
    assert done["faq"] < 0.5 < DELAY, done
