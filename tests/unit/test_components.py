"""Our graph components called the way Rasa calls them (create, then process)."""
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import FollowupRouter, IcpEntityExtractor, TextNormalizer


def build(cls, **config):
    return cls.create({**cls.get_default_config(), **config}, None, None, None)


def test_normalizer_rewrites_live_messages_and_training_examples():
    normalizer = build(TextNormalizer, max_chars=10)
    [message] = normalizer.process([Message(data={TEXT: "個人備案要準備什麼材料呢？？"})])
    assert message.get(TEXT) == "个人备案要准备什么材"
    data = normalizer.process_training_data(TrainingData([Message(data={TEXT: "ＩＣＰ備案", INTENT: "faq"})]))
    assert data.training_examples[0].get(TEXT) == "ICP备案"


def test_entity_extractor_adds_entities_with_its_name():
    [message] = build(IcpEntityExtractor).process([Message(data={TEXT: "订单ICP2026110400318 手机尾号5678"})])
    found = {(e["entity"], e["value"], e["extractor"]) for e in message.get(ENTITIES)}
    assert found == {("order_id", "ICP2026110400318", "IcpEntityExtractor"),
                     ("phone_tail", "5678", "IcpEntityExtractor")}


def test_followup_router_routes_only_follow_ups():
    router = build(FollowupRouter)
    follow = Message(data={TEXT: "那公司呢?", INTENT: {"name": "out_of_scope", "confidence": 0.9}})
    plain = Message(data={TEXT: "今天天气怎么样", INTENT: {"name": "out_of_scope", "confidence": 0.9}})
    router.process([follow, plain])
    assert follow.get(INTENT)["name"] == "faq" and follow.get(INTENT)["followup"] is True
    assert plain.get(INTENT)["name"] == "out_of_scope"
