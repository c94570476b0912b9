"""Intent cues: a few words that settle an intent whatever the classifier guessed.

DIET is trained on whole sentences; a long angry message full of filing words reads like an FAQ
question to it, and "收到，多谢提醒" like a question about reminders. These closed lexicons decide:

- a complaint word (投诉, 举报, 差评, "什么破服务"…) makes any message a complaint;
- thanks / goodbye words in a short message the classifier took for a question (or did not get)
  make it small talk: "谢谢 帮我看看我订单" keeps its task intent, "收到，多谢提醒" becomes thanks;
- asking to hurry (加急, 催一下, 快点, 怎么还没好) in a short non-task message is urging;
- "有帮助" / "没用" in a short non-task message is a verdict on the answer;
- an order number or phone digits in a message the classifier took for small talk or a question
  is a lookup; so is "麻烦查一下备案订单", and "我留个工单" asks for a ticket — unless the message
  asks how (怎么/在哪/吗), which is the FAQ's.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

COMPLAIN = re.compile(r"投诉|举报|差评|垃圾|什么破|破(服务|系统|网站|客服)|差劲|态度(很|太|真|极|非常)?(差|恶劣)|忍不了|坑人|太坑|complain")
GOODBYE = re.compile(r"再见|拜拜|拜了|bye|回见|下次聊|下线|先撤|溜了|先这样(吧|了)?$|88$", re.I)
THANKS = re.compile(r"谢|thx|thank|3q|辛苦|感恩", re.I)
NOT_COMPLAINING = re.compile(r"(不|别|不用|不想|没)(再)?(投诉|举报)")  # "算了不投诉了"
URGE = re.compile(r"(这么|太|好)慢|加急|催(一下|一催|催|审|他们|管局)?|快点|快一点|尽快|加快|快些|(怎么|咋|为啥|为什么)还(没|在)|还没(好|审|批|下来|出结果|通过|弄完)"
                  r"|expedite|hurry|speed (it )?up|faster|asap|push them", re.I)
# In a longer message only an explicit ask to hurry counts ("老板催网站上线…" is not one).
URGE_ASK = re.compile(r"(这么|太|好)慢|加急|催(一下|一催|催|审|他们|管局)|快(点|一点|些)|加快|尽快|(怎么|咋|为啥|为什么)还(没|在)"
                      r"|expedite|hurry|speed (it )?up|asap|push them", re.I)
HELPFUL = re.compile(r"有帮助|有用|帮到(我|了)|管用|解决了|helpful")
UNHELPFUL = re.compile(r"没(有)?帮助|没(啥|什么)?用|不管用|答非所问|没解决|不是我要的|useless|not helpful")
# A request, not a how-to question: "我留个工单", "麻烦查一下备案订单" (but "工单怎么提", "在哪查进度").
HOW_TO = re.compile(r"怎么|怎样|如何|咋|啥|什么|为什么|找不到|在哪|哪里|哪儿|哪个|能不能|可不可以|可以吗|吗|么|\?|？|流程|步骤|入口")
OPEN_TICKET = re.compile(r"(提|开|建|留|交|提交|新建|发)(个|一个|一张|张|下|一下)?(工单|单子)")
LOOK_UP = re.compile(r"(帮|麻烦|给|请|替)(我|忙)?.{0,3}(查|看)(一下|下|看|查)?.{0,8}(订单|备案|进度|审核)")
TASK_ENTITIES = {"order_id", "phone_tail"}  # a number to look up in a message that is not a task
NON_TASK = {"faq", "nlu_fallback", "out_of_scope", "affirm", "deny", "greet", "thanks", "goodbye"}
SHORT = 14


def cue_intent(text: str, predicted: Optional[str], entities: Iterable[str] = ()) -> Optional[str]:
    """The intent the cues settle for normalized `text` given the classifier's guess and the
    entity types found in it, or None."""
    if not text:
        return None
    if COMPLAIN.search(text) and not NOT_COMPLAINING.search(text):
        return "complain"
    if predicted in NON_TASK and TASK_ENTITIES & set(entities):
        return "ask_order_status"  # "再查一个 20261020-2271", "尾号 7 8 7 8"
    if predicted in ("faq", "nlu_fallback", "out_of_scope") and not HOW_TO.search(text):
        if OPEN_TICKET.search(text):
            return "create_ticket"
        if LOOK_UP.search(text):
            return "ask_order_status"
    if predicted not in NON_TASK or len(text) > SHORT:
        fits = len(text) <= 2 * SHORT or text.isascii()  # English says the same in more characters
        return "urge" if predicted in ("faq", "nlu_fallback", "out_of_scope") and fits and URGE_ASK.search(text) else None
    question = text.rstrip("~～!！。. ").endswith(("吗", "么", "?", "？", "呢"))  # "公安备案有用吗" asks
    if UNHELPFUL.search(text) and not question:
        return "feedback_unhelpful"
    if HELPFUL.search(text) and not question:
        return "feedback_helpful"
    if GOODBYE.search(text):
        return "goodbye"
    if THANKS.search(text) and predicted not in ("goodbye",):
        return "thanks"
    if URGE.search(text) and predicted in ("faq", "nlu_fallback", "out_of_scope"):
        return "urge"
    return None
