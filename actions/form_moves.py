"""What people do inside a form, handled in one place for every form.

Inside a form a message is rarely just the value asked for. People leave ("算了"), refuse ("不方便
留电话"), don't know ("单号忘了"), correct an earlier value ("电话写错了，是…"), or ask something
else. `classify` names the move; `GuidedFormValidation` acts on it the same way in every form:

- leave: the form ends with one short reply and no prompt after it;
- refuse / don't know: the form's own hook answers (an e-mail instead of a phone, where to find
  the number) and either asks once more or ends the form;
- correction: the corrected value replaces the old one; without a value, that value is asked again;
- another flow (a person, a complaint, urging, an FAQ question, thanks): nothing is set, so Rasa
  rejects the form for this turn and the rules answer it; the form then asks its question once;
- anything else that fills nothing: the question is asked again with a hint, never a menu.

Validation never utters a prompt itself: it leaves a note in the `form_note` slot and the form's
`action_ask_<slot>` says note-or-prompt, so a reply carries exactly one question.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.nlu.cues import COMPLAIN
from bot.nlu.normalize import normalize

REQUESTED = "requested_slot"
ACTION_LISTEN = "action_listen"
NOTE = "form_note"  # the next prompt's wording when the plain prompt would not fit
MOVE = "form_move"  # what the last in-form message did (kept for the next turn and for tests)
STOP = "stop"  # a validation sets MOVE to this to end the form without asking more


class Move(str, Enum):
    VALUE = "value"
    LEAVE = "leave"
    REFUSE = "refuse"
    DONT_KNOW = "dont_know"
    CORRECTION = "correction"
    ELSEWHERE = "elsewhere"  # another flow answers it (a person, a complaint, an FAQ question…)
    UNCLEAR = "unclear"


# A cue only counts in a short message: in a ticket description "取消接入后…" is content, not "cancel".
LEAVE = re.compile(r"算了|算啦|(先)?别(提交|提了|交了|弄了|查了)|不(要)?提交了?|不查了|不用(了|啦|查|问|提|弄|麻烦)"
                   r"|先不|不弄了|不提了|不要了|取消|不办了|不想(查|弄|提|办|问)了?"
                   r"|放弃|没事了|不需要了|改天|下次再|以后再|回头再|我自己(去|看|查)|不找了|停|结束|退出")
REFUSE = re.compile(r"不方便|不(想|用)?留了?|不想(给|留|说|提供|告诉|透露)|不愿(意)?|不能(给|留|提供|告诉)"
                    r"|不给|不留|不告诉|凭什么|隐私"
                    r"|没有(手机|电话|邮箱)|不用(手机|电话)")
DONT_KNOW = re.compile(r"忘了|忘记|不记得|记不(得|清|住)|不知道|不清楚|不晓得|找不到|没找到"
                       r"|(在|去)?哪(里|儿)?(看|找|查)"
                       r"|怎么(找|查看|看)|没(看到|印象)|不确定|想不起")
CORRECTION = re.compile(r"写错|打错|输错|填错|说错|搞错|弄错|发错|错了|不对|更正|改(成|为|一下)|应该是"
                        r"|重新(填|写|输)|换(成|个)")
SWITCH_INTENTS = {"ask_order_status", "create_ticket"}  # another task, even in a description
SHORT = 16  # characters: longer messages are content, whatever cue they contain
DIGITS = re.compile(r"\d{3}")  # "1380013800": a value typed wrong, whatever the classifier made of it
SLOT_WORDS = re.compile(r"手机|电话|号码|尾号|后四位|后4位|订单号|单号|邮箱|联系方式|联系")


def message_text(tracker: Tracker) -> str:
    return normalize((tracker.latest_message or {}).get("text"))


def intent_of(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name") or "", float(intent.get("confidence") or 0.0)


def classify(text: str, intent: str, *, has_value: bool, free_text: bool = False,
             elsewhere: frozenset = frozenset(), confident: bool = True) -> Move:
    """The move one in-form message makes.

    `has_value`: the form found a value for one of its slots in the message. `free_text`: the slot
    asked for takes any text (a description), so only leaving and handing over are moves there.
    `elsewhere`: intents another flow answers inside this form (its rules resume the form after).
    """
    short = len(text) <= SHORT
    if has_value:
        return Move.CORRECTION if CORRECTION.search(text) else Move.VALUE
    about_slot = short or SLOT_WORDS.search(text)
    # Another task ("帮我查下订单…") takes over; inside a description only when it says so up front.
    switching = intent in elsewhere and intent in SWITCH_INTENTS and confident and \
        (not free_text or short or LEAVE.search(text[:6]))
    # "不想给尾号，直接告诉我结果" sounds cross but refuses the slot; a complaint word makes it a complaint.
    refusing = (not free_text and about_slot and (REFUSE.search(text) or DONT_KNOW.search(text))
                and not COMPLAIN.search(text))
    if intent == "request_human" or (intent == "complain" and not refusing) or switching:
        return Move.ELSEWHERE
    # "…不用了" ends a longer message too: the last words are the decision; digits are an attempt at a value.
    if (short and LEAVE.search(text)) or LEAVE.search(text[-6:]) or (intent == "goodbye" and not DIGITS.search(text)):
        return Move.LEAVE
    if free_text:
        if short and SLOT_WORDS.search(text) and REFUSE.search(text):
            return Move.REFUSE  # "手机号不方便留" is about the contact, not the problem
        return Move.LEAVE if intent == "deny" and short else Move.VALUE
    if short and CORRECTION.search(text):
        return Move.CORRECTION  # "不对，号码写错了" corrects; it does not cancel
    if about_slot and REFUSE.search(text):
        return Move.REFUSE
    if about_slot and DONT_KNOW.search(text):
        return Move.DONT_KNOW
    if intent in elsewhere and confident and not short:
        return Move.ELSEWHERE  # a real question ("对了，短信验证码一直没收到怎么办") is answered
    if intent == "deny" and short and not DIGITS.search(text):
        return Move.LEAVE
    if intent in elsewhere and confident:
        return Move.ELSEWHERE
    return Move.UNCLEAR


def end_form(**slots: Any) -> List[Dict[str, Any]]:
    """Events that end the active form now (any slot values given are set too)."""
    # Listening next keeps the form's "completed" rule (and its submit action) from running.
    return [ActiveLoop(None), SlotSet(REQUESTED, None), SlotSet(NOTE, None), FollowupAction(ACTION_LISTEN)] + \
        [SlotSet(name, value) for name, value in slots.items()]


class GuidedFormValidation(FormValidationAction, ABC):
    """A form validation that first handles the move the message makes (see the module docstring).

    Subclasses name their form's slots and say what leaving, refusing and not knowing mean for them.
    """

    #: the slots this form fills, in order (used for corrections and for clearing on leave)
    form_slots: tuple[str, ...] = ()
    #: slots that take any text: only leaving and handing over are moves there
    free_text_slots: tuple[str, ...] = ()
    #: intents whose rules answer inside this form and then resume it (data/rules/forms.yml)
    elsewhere_intents: frozenset = frozenset({"request_human", "complain", "faq", "greet", "thanks",
                                              "bot_challenge", "out_of_scope"})
    #: below this intent confidence a message is not trusted to mean another flow
    confidence: float = 0.6

    @abstractmethod
    def on_leave(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        """The reply and events when the user leaves the form."""

    def on_refuse(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> List[Dict[str, Any]]:
        return [SlotSet(NOTE, None)]

    def on_dont_know(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> List[Dict[str, Any]]:
        return [SlotSet(NOTE, None)]

    def unclear_note(self, slot: str) -> Optional[str]:
        """The hint that replaces the prompt when a message filled nothing."""
        return None

    def values_in_message(self, tracker: Tracker) -> Dict[str, Any]:
        """Slot values this form can read off the current message (entities, not whole messages)."""
        return {}

    def correction_target(self, text: str, tracker: Tracker) -> Optional[str]:
        """Which slot a value-less correction ("刚才写错了") is about: by default the one filled last."""
        requested = tracker.get_slot(REQUESTED)
        filled = [s for s in self.form_slots if tracker.get_slot(s) not in (None, "") and s != requested]
        return filled[-1] if filled else None

    async def required_slots(self, domain_slots: List[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[str]:
        """Nothing more to ask once a validation said STOP (the database is down, say)."""
        return [] if tracker.get_slot(MOVE) == STOP else domain_slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        requested = tracker.get_slot(REQUESTED)
        if not requested or tracker.active_loop.get("name") != self.form_name():
            tracker.slots[MOVE] = None  # the turn that starts the form: a fresh start
            return [SlotSet(MOVE, None)] + await super().run(dispatcher, tracker, domain)
        text, (intent, confidence) = message_text(tracker), intent_of(tracker)
        values = self.values_in_message(tracker)
        move = classify(text, intent, has_value=bool(values), free_text=requested in self.free_text_slots,
                        elsewhere=self.elsewhere_intents, confident=confidence >= self.confidence)
        events: List[Dict[str, Any]] = [SlotSet(MOVE, move.value)]
        if move is Move.ELSEWHERE:
            return []  # nothing set: Rasa rejects the form this turn and the rules take it
        if move is Move.LEAVE:
            return events + self.on_leave(dispatcher, tracker)
        if move is Move.REFUSE:
            return events + self.on_refuse(dispatcher, tracker, requested)
        if move is Move.DONT_KNOW:
            return events + self.on_dont_know(dispatcher, tracker, requested)
        if move is Move.CORRECTION and not values:
            target = self.correction_target(text, tracker) or requested
            return events + [SlotSet(target, None), SlotSet(NOTE, self.correction_note(target))]
        if move is Move.UNCLEAR:
            return events + [SlotSet(NOTE, self.unclear_note(requested))]
        return events + self._stop_if_asked([SlotSet(NOTE, None)] + await super().run(dispatcher, tracker, domain))

    @staticmethod
    def _stop_if_asked(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """A validation that said STOP has already replied: listen next, so no submit action runs."""
        stopped = any(e.get("event") == "slot" and e.get("name") == MOVE and e.get("value") == STOP for e in events)
        return events + [FollowupAction(ACTION_LISTEN)] if stopped else events

    def correction_note(self, slot: str) -> Optional[str]:
        return None


class AskWithNote(Action, ABC):
    """`action_ask_<slot>`: the validation's note when it left one, else the slot's plain prompt
    (the domain's `utter_ask_<slot>` unless a subclass words it). Abstract until a subclass names
    its slot, so rasa_sdk registers only the real ones."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot this action asks for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def prompt(self, tracker: Tracker) -> Dict[str, Any]:
        """The plain prompt as utter_message keyword arguments (text, buttons…)."""
        return {"response": f"utter_ask_{self.slot}"}

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        note = tracker.get_slot(NOTE)
        dispatcher.utter_message(**({"text": note} if note else self.prompt(tracker)))
        return [SlotSet(NOTE, None)] if note else []
