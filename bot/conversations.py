"""The conversation evaluator: play `tests/conversations/` through the REST channel and judge each turn.

A conversation succeeds when every turn meets what it states (intent, actions, topic, form, slots,
text that must and must not appear) and the checks every turn owes the user (a reply, no slot
placeholders or internal labels, 您 not 你, one prompt at most, no menu stacked on a prompt).
What happened is read from the conversation's tracker through Rasa's HTTP API, so the servers
must run with `--enable-api` on loopback (both shapes in `bot.shapes` do).
"""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import requests
import yaml

DEFAULT_CLOCK = "2026-12-02 14:00"  # a Wednesday afternoon: in service hours
# The servers the corpus is played on: real service hours with the injectable clock, and no
# per-order lockout (the corpus tries wrong digits on the same demo orders many times an hour).
SERVER_ENV = {"TEST_CLOCK": "1", "SERVICE_HOURS": "09:00-21:00", "LOOKUP_ORDER_RATE_LIMIT": "1000000"}
EXPECT_KEYS = {"intent", "actions", "not_actions", "topic", "form", "slots", "says", "says_any", "not_says"}
_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")
_INTERNAL = ("（关于：", "(关于:", "requested_slot", "utter_", "action_")
_INFORMAL_YOU = re.compile(r"你(?!好)")
_MENU = "您是想了解"
_LISTEN = "action_listen"


@dataclass
class Conversation:
    id: str
    flow: str
    classes: List[str]
    turns: List[Dict[str, Any]]
    clock: str = DEFAULT_CLOCK
    file: str = ""
    heldout: bool = False


@dataclass
class TurnResult:
    index: int
    user: str
    reply: str
    failures: List[str]


@dataclass
class ConversationResult:
    conversation: Conversation
    turns: List[TurnResult] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(not t.failures for t in self.turns)


def load_corpus(root: Path) -> List[Conversation]:
    """Every conversation under `root`; those under a `heldout/` folder are marked held out."""
    conversations: List[Conversation] = []
    seen: set = set()
    for path in sorted(Path(root).rglob("*.yml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            conv = Conversation(id=str(raw["id"]), flow=str(raw.get("flow", "")),
                                classes=[str(c) for c in raw.get("classes") or []],
                                turns=list(raw["turns"]), clock=str(raw.get("clock") or DEFAULT_CLOCK),
                                file=str(path.relative_to(root)), heldout="heldout" in path.relative_to(root).parts)
            problems = validate(conv)
            if conv.id in seen:
                problems.append("duplicate id")
            if problems:
                raise ValueError(f"{path}: {conv.id}: {'; '.join(problems)}")
            seen.add(conv.id)
            conversations.append(conv)
    return conversations


def validate(conv: Conversation) -> List[str]:
    """What is wrong with a conversation's shape (unknown keys, empty turns)."""
    problems = []
    if not conv.turns:
        problems.append("no turns")
    for i, turn in enumerate(conv.turns, 1):
        if not isinstance(turn, dict) or not str(turn.get("user", "")).strip():
            problems.append(f"turn {i}: no user text")
            continue
        unknown = set(turn) - EXPECT_KEYS - {"user"}
        if unknown:
            problems.append(f"turn {i}: unknown keys {sorted(unknown)}")
    return problems


# --- judging one turn --------------------------------------------------------------------------------


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def turn_events(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The events since the last user message: what the bot did in this turn."""
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return events[last_user + 1:]


def _without_echo(text: str, events: List[Dict[str, Any]]) -> str:
    """The reply minus what the user wrote (a ticket summary quotes their description)."""
    for e in events:
        if e.get("event") == "user":
            for said in (e.get("text"), (e.get("parse_data") or {}).get("text")):
                if said and len(said) >= 2:
                    text = text.replace(said, "")
    return text


def judge(expect: Dict[str, Any], replies: List[Dict[str, Any]], tracker: Dict[str, Any]) -> List[str]:
    """Every way this turn fails its expectations and the checks every turn owes the user."""
    failures: List[str] = []
    texts = [m.get("text") or "" for m in replies]
    text = "\n".join(texts)
    searchable = text + "\n" + "\n".join(b.get("title", "") for m in replies for b in m.get("buttons") or [])
    events = tracker.get("events") or []
    done = [e.get("name") for e in turn_events(events) if e.get("event") == "action" and e.get("name") != _LISTEN]
    slots = tracker.get("slots") or {}
    latest = tracker.get("latest_message") or {}

    # What every turn owes the user.
    if not text.strip():
        failures.append("no reply")
    placeholder = _PLACEHOLDER.search(text)
    if placeholder:
        failures.append(f"slot placeholder in reply: {placeholder.group()}")
    for label in _INTERNAL:
        if label in text:
            failures.append(f"internal label in reply: {label}")
    if _INFORMAL_YOU.search(_without_echo(text, events)):
        failures.append("says 你 instead of 您")
    prompts = [a for a in done if a and (a.startswith("action_ask_") or a.startswith("utter_ask_"))]
    if len(prompts) > 1:
        failures.append(f"{len(prompts)} prompts in one reply: {prompts}")
    if prompts and _MENU in text:
        failures.append("a menu stacked on a form prompt")
    if "action_default_fallback" in done and len(done) > 1:
        failures.append(f"a fallback stacked on another reply: {done}")

    # What this turn states.
    if "intent" in expect:
        got = (latest.get("intent") or {}).get("name")
        if got not in _as_list(expect["intent"]):
            failures.append(f"intent {got!r}, expected {expect['intent']!r}")
    for action in _as_list(expect.get("actions") or []):
        if action not in done:
            failures.append(f"action {action} did not run (ran {done})")
    for action in _as_list(expect.get("not_actions") or []):
        if action in done:
            failures.append(f"action {action} ran")
    if "topic" in expect and slots.get("faq_topic") != expect["topic"]:
        failures.append(f"topic {slots.get('faq_topic')!r}, expected {expect['topic']!r}")
    if "form" in expect:
        form = (tracker.get("active_loop") or {}).get("name")
        if form != expect["form"]:
            failures.append(f"form {form!r}, expected {expect['form']!r}")
    for name, value in (expect.get("slots") or {}).items():
        got = slots.get(name)
        if (value is None and got not in (None, "")) or (value is not None and str(got) != str(value)):
            failures.append(f"slot {name}={got!r}, expected {value!r}")
    for phrase in _as_list(expect.get("says") or []):
        if str(phrase) not in searchable:
            failures.append(f"reply lacks {phrase!r}")
    any_of = _as_list(expect.get("says_any") or [])
    if any_of and not any(str(p) in searchable for p in any_of):
        failures.append(f"reply has none of {any_of!r}")
    for phrase in _as_list(expect.get("not_says") or []):
        if str(phrase) in text:
            failures.append(f"reply says {phrase!r}")
    return failures


# --- playing ------------------------------------------------------------------------------------------


def play(conv: Conversation, base: str, timeout: float = 30) -> ConversationResult:
    """One conversation through the REST channel, each turn judged against its tracker."""
    result = ConversationResult(conv)
    sender = f"conv-{conv.id}-{uuid.uuid4().hex[:6]}"
    with requests.Session() as http:
        for i, turn in enumerate(conv.turns, 1):
            user = str(turn["user"])
            try:
                r = http.post(f"{base}/webhooks/rest/webhook", timeout=timeout,
                              json={"sender": sender, "message": user, "metadata": {"clock": conv.clock}})
                replies = r.json() if r.status_code == 200 else []
                tracker = http.get(f"{base}/conversations/{sender}/tracker", timeout=timeout).json()
            except (requests.RequestException, ValueError) as exc:
                result.error = f"turn {i}: {exc}"
                return result
            failures = [f"HTTP {r.status_code}"] if r.status_code != 200 else []
            failures += judge({k: v for k, v in turn.items() if k != "user"}, replies, tracker)
            reply = "\n".join(m.get("text") or "" for m in replies)
            result.turns.append(TurnResult(i, user, reply, failures))
    return result


def run(conversations: Iterable[Conversation], base: str, workers: int = 4) -> List[ConversationResult]:
    conversations = list(conversations)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: play(c, base), conversations))


# --- reporting ----------------------------------------------------------------------------------------


@dataclass
class Figures:
    conversations: int
    succeeded: int
    turns: int
    turns_passed: int

    @property
    def success(self) -> float:
        return self.succeeded / self.conversations if self.conversations else 0.0

    @property
    def turn_rate(self) -> float:
        return self.turns_passed / self.turns if self.turns else 0.0

    def line(self, name: str) -> str:
        return (f"{name:<22} conversations {self.succeeded:>3}/{self.conversations:<3} = {self.success:6.1%}   "
                f"turns {self.turns_passed:>4}/{self.turns:<4} = {self.turn_rate:6.1%}")


def figures(results: Iterable[ConversationResult]) -> Figures:
    results = list(results)
    turns = [t for r in results for t in r.turns]
    return Figures(len(results), sum(r.passed for r in results),
                   sum(len(r.conversation.turns) for r in results), sum(not t.failures for t in turns))


def report(results: List[ConversationResult], show_heldout_failures: bool = False) -> str:
    """Figures for the tuning part and the held-out part, by flow and by class, then the failing turns."""
    tuning = [r for r in results if not r.conversation.heldout]
    heldout = [r for r in results if r.conversation.heldout]
    lines = ["Conversations (tests/conversations/), played through the REST channel", "",
             figures(tuning).line("tuning"), figures(heldout).line("held-out"), figures(results).line("all"), ""]
    for key, values in (("flow", sorted({r.conversation.flow for r in results})),
                        ("class", sorted({c for r in results for c in r.conversation.classes}))):
        for value in values:
            part = [r for r in results
                    if (r.conversation.flow == value if key == "flow" else value in r.conversation.classes)]
            lines.append(figures(part).line(f"{key} {value}"))
        lines.append("")
    shown = results if show_heldout_failures else tuning
    for r in shown:
        if r.passed:
            continue
        lines.append(f"FAIL {r.conversation.id} ({r.conversation.file})" + (f": {r.error}" if r.error else ""))
        for t in r.turns:
            if t.failures:
                lines.append(f"  turn {t.index} 「{t.user}」 → 「{t.reply[:120]}」")
                lines += [f"    - {f}" for f in t.failures]
    hidden = sum(not r.passed for r in heldout)
    if hidden and not show_heldout_failures:
        lines.append(f"({hidden} held-out conversations failed; their turns are not shown, so nobody tunes on them)")
    return "\n".join(lines)
