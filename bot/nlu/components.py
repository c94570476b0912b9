"""Our Rasa 3 graph components; each wraps a pure function that is tested on its own.

Registered with the default recipe so `config.yml` names them by import path.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import followup
from bot.nlu import entities
from bot.nlu.normalize import MAX_CHARS, normalize


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class TextNormalizer(GraphComponent):
    """Rewrites each message's text to the canonical form before jieba sees it.

    Registered as a tokenizer-type component because only those run over the training data too,
    so examples and live messages are normalized the same way.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": MAX_CHARS}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._max_chars = int(config["max_chars"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TextNormalizer":
        return cls(config)

    def _apply(self, message: Message) -> None:
        text = message.get(TEXT)
        if text is not None:
            message.set(TEXT, normalize(text, self._max_chars))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._apply(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._apply(message)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class IcpEntityExtractor(GraphComponent, EntityExtractorMixin):
    """order_id, icp_number, phone, domain and province from spaCy (see bot.nlu.entities)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IcpEntityExtractor":
        entities.build_nlp()  # load spaCy and jieba with the model, not on the first user turn
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = entities.extract(message.get(TEXT) or "")
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FollowupRouter(GraphComponent):
    """Sends follow-up-shaped messages ("那公司呢?") to the FAQ action instead of a guess.

    Placed after the FallbackClassifier: a short "…呢" naming a facet is a follow-up on the last
    answer whatever the classifiers made of it; the action resolves it against the last topic.
    """

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FollowupRouter":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if followup.detect(message.get(TEXT) or ""):
                intent: Optional[Dict[Text, Any]] = message.get(INTENT) or {}
                routed = {"name": "faq", "confidence": 1.0, "followup": True}
                if intent.get("name") != "faq":
                    ranking = message.get(INTENT_RANKING_KEY) or []
                    message.set(INTENT_RANKING_KEY, [routed] + ranking, add_to_output=True)
                message.set(INTENT, routed, add_to_output=True)
        return messages
