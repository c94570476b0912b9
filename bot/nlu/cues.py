"""Intent cues: a few words that settle an intent whatever the classifier guessed.

DIET is trained on whole sentences; a long angry message full of filing words reads like an FAQ
question to it, and "收到，多谢提醒" like a question about reminders. These closed lexicons decide:

- a complaint word (投诉, 举报, 差评, "什么破服务"…) makes any message a complaint;
- thanks / goodbye words in a short message the classifier took for a question (or did not get)
  make it small talk: "谢谢 帮我看看我订单" keeps its task intent, "收到，多谢提醒" becomes thanks;
- asking to hurry (加急, 催一下, 快点) in a short non-task message is urging.
"""
from __future__ import annotations

import re
from typing import Optional

COMPLAIN = re.compile(r"投诉|举报|差评|垃圾|什么破|破(服务|系统|网站|客服)|差劲|态度(很|太|真|极|非常)?(差|恶劣)|忍不了|坑人|骗子|太坑")
GOODBYE = re.compile(r"再见|拜拜|拜了|bye|回见|下次聊|下线|先撤|溜了|先这样(吧|了)?$|88$", re.I)
THANKS = re.compile(r"谢|thx|thank|3q|辛苦|感恩", re.I)
URGE = re.compile(r"加急|催(一下|一催|催|审|他们|管局)?|快点|快一点|尽快|加快|快些")
NON_TASK = {"faq", "nlu_fallback", "out_of_scope", "affirm", "deny", "greet", "thanks", "goodbye"}
SHORT = 14


def cue_intent(text: str, predicted: Optional[str]) -> Optional[str]:
    """The intent the cues settle for normalized `text` given the classifier's guess, or None."""
    if not text:
        return None
    if COMPLAIN.search(text):
        return "complain"
    if predicted not in NON_TASK or len(text) > SHORT:
        return None
    if GOODBYE.search(text):
        return "goodbye"
    if THANKS.search(text) and predicted not in ("goodbye",):
        return "thanks"
    if URGE.search(text) and predicted in ("faq", "nlu_fallback", "out_of_scope"):
        return "urge"
    return None
