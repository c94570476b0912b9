"""Our Rasa 3 graph components; each wraps a pure function that is tested on its own.

Registered with the default recipe so `config.yml` names them by import path.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
    TOKENS_NAMES,
)
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import followup
from bot.nlu import entities
from bot.nlu.cues import cue_intent
from bot.nlu.faq_ranker import LinearRanker, blend
from bot.nlu.normalize import MAX_CHARS, normalize


class _FromConfig(GraphComponent):
    """A component with nothing to train: built from its config alone (the default-config merge
    Rasa does for us)."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> _FromConfig:
        return cls(config)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class TextNormalizer(_FromConfig):
    """Rewrites each message's text to the canonical form before jieba sees it.

    Registered as a tokenizer-type component because only those run over the training data too,
    so examples and live messages are normalized the same way.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"max_chars": MAX_CHARS}

    def _apply(self, message: Message) -> None:
        text = message.get(TEXT)
        if text is not None:
            message.set(TEXT, normalize(text, int(self._config["max_chars"])))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._apply(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._apply(message)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class IcpEntityExtractor(_FromConfig, EntityExtractorMixin):
    """order_id, icp_number, phone, phone_tail, domain and province from spaCy (bot.nlu.entities)."""

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> IcpEntityExtractor:
        entities.build_nlp()  # load spaCy and jieba with the model, not on the first user turn
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = entities.extract(message.get(TEXT) or "")
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


def _route(message: Message, name: str, **flags: Any) -> None:
    """Make `name` the message's intent, keeping the classifier's ranking below it."""
    intent: Dict[str, Any] = message.get(INTENT) or {}
    routed = {"name": name, "confidence": 1.0, **flags}
    if intent.get("name") != name:
        ranking = message.get(INTENT_RANKING_KEY) or []
        message.set(INTENT_RANKING_KEY, [routed] + [r for r in ranking if r.get("name") != name],
                    add_to_output=True)
    message.set(INTENT, routed, add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentCues(_FromConfig):
    """Complaint, thanks, goodbye and urging words settle the intent (bot.nlu.cues)."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = [e.get("entity") for e in message.get(ENTITIES) or []]
            faq = (message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}).get("faq") or {}
            top = max((r.get("confidence") or 0.0 for r in faq.get(RESPONSE_SELECTOR_RANKING_KEY) or []), default=0.0)
            cued = cue_intent(message.get(TEXT) or "", (message.get(INTENT) or {}).get("name"), found, top)
            if cued:
                _route(message, cued, cue=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FollowupRouter(_FromConfig):
    """Sends follow-up-shaped messages ("那公司呢?") to the FAQ action instead of a guess.

    Placed after the FallbackClassifier: a short "…呢" naming a facet is a follow-up on the last
    answer whatever the classifiers made of it; the action resolves it against the last topic.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if followup.detect(message.get(TEXT) or "") and not (message.get(INTENT) or {}).get("cue"):
                _route(message, "faq", followup=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class FaqRanker(GraphComponent):
    """Re-ranks the ResponseSelector's FAQ topics by blending in a linear model (bot.nlu.faq_ranker).

    Writes the blended ranking where Rasa puts the ResponseSelector's (`response_selector.faq`),
    so actions, `utter_faq` and the HTTP API all see one ranking; the selector's own ranking stays
    alongside as `selector_ranking` for diagnosis.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"retrieval_intent": "faq", "weight": 0.7, "c": 50.0, "ranking_length": 10}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 ranker: Optional[LinearRanker] = None, responses: Optional[Dict[str, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._ranker = ranker
        self._responses = responses or {}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FaqRanker:
        return cls(config, model_storage, resource)

    @staticmethod
    def _text(message: Message) -> str:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        return " ".join(t.text for t in tokens) or (message.get(TEXT) or "")

    def train(self, training_data: TrainingData) -> Resource:
        intent = self._config["retrieval_intent"]
        examples = [m for m in training_data.intent_examples
                    if m.get(INTENT) == intent and m.get(INTENT_RESPONSE_KEY)]
        if not examples:
            return self._resource
        ranker = LinearRanker.fit([self._text(m) for m in examples], [m.get(INTENT_RESPONSE_KEY) for m in examples],
                                  c=float(self._config["c"]))
        responses = {k: v for k, v in training_data.responses.items() if k.startswith(f"utter_{intent}/")}
        with self._storage.write_to(self._resource) as directory:
            ranker.save(directory)
            (directory / "responses.json").write_text(json.dumps(responses, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> FaqRanker:
        try:
            with model_storage.read_from(resource) as directory:
                ranker = LinearRanker.load(directory)
                responses = json.loads((directory / "responses.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            ranker, responses = None, {}
        return cls(config, model_storage, resource, ranker, responses)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._ranker is None:
            return messages
        intent = self._config["retrieval_intent"]
        for message in messages:
            selectors = message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}
            previous = selectors.get(intent) or {}
            selector_ranking = previous.get(RESPONSE_SELECTOR_RANKING_KEY) or []
            selector = {r[INTENT_RESPONSE_KEY]: float(r[PREDICTED_CONFIDENCE_KEY]) for r in selector_ranking}
            probabilities = self._ranker.probabilities([self._text(message)])[0]
            linear = dict(zip(self._ranker.labels, (float(p) for p in probabilities), strict=True))
            weight = float(self._config["weight"]) if selector else 1.0
            ranked = blend(linear, selector, weight)[: int(self._config["ranking_length"])]
            top_key, top_confidence = ranked[0]
            utter = f"utter_{top_key}"
            selectors[intent] = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self._responses.get(utter, []),
                    PREDICTED_CONFIDENCE_KEY: top_confidence,
                    INTENT_RESPONSE_KEY: top_key,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter,
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {PREDICTED_CONFIDENCE_KEY: c, INTENT_RESPONSE_KEY: k} for k, c in ranked
                ],
                "selector_ranking": selector_ranking,
            }
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, selectors, add_to_output=True)
        return messages
