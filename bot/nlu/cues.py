"""Intent cues: a few words that settle an intent whatever the classifier guessed.

DIET is trained on whole sentences; a long angry message full of filing words reads like an FAQ
question to it, and "收到，多谢提醒" like a question about reminders. These closed lexicons decide:

- a complaint word (投诉, 举报, 差评, "什么破服务"…) makes any message a complaint;
- thanks / goodbye words in a short message the classifier took for a question (or did not get)
  make it small talk: "谢谢 帮我看看我订单" keeps its task intent, "收到，多谢提醒" becomes thanks;
- asking to hurry (加急, 催一下, 快点, 怎么还没好) in a short non-task message is urging;
- "有帮助" / "没用" / "成功了" / "还是不懂" in a short non-task message is a verdict on the answer
  (and settles which verdict when the classifier picked the other one);
- "初审过了吗" / "我的备案到哪一步了" asks about the user's own filing: a lookup, unless it asks
  how to check (怎么/在哪/多久);
- an order number or phone digits in a message the classifier took for small talk or a question
  is a lookup; so is "麻烦查一下备案订单", and "我留个工单" / "留个言让人联系我" asks for a ticket — unless the message
  asks how (怎么/在哪/吗), which is the FAQ's.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

COMPLAIN = re.compile(r"投诉|举报|差评|垃圾|什么破|破(服务|系统|网站|客服)|差劲|态度(很|太|真|极|非常)?(差|恶劣)"
                      r"|忍不了|坑人|太坑|complain"
                      r"|什么服务|有完没完|不负责|干什么吃的|干啥吃的|搞什么鬼|像话吗|太过分|欺负人|还想不想做")
# Annoyance that also fits a plain request ("热线没人接，帮我提个工单"): a complaint only when no task is asked.
ANNOYED = re.compile(r"浪费(我的?)?时间|不办事|没人(接|回|管|理)|无语|气死|受够")
GOODBYE = re.compile(r"再见|拜拜|拜了|bye|回见|下次聊|下线|先撤|溜了|先这样(吧|了)?$|88$", re.I)
THANKS = re.compile(r"谢|thx|thank|3q|辛苦|感恩", re.I)
NOT_COMPLAINING = re.compile(r"(不|别|不用|不想|没)(再)?(投诉|举报)")  # "算了不投诉了"
# Asking to hurry, the words both lexicons share.
_HURRY = (r"(这么|太|好)慢|加急|快(点|一点|些|啲)|加快|尽快|(怎么|咋|为啥|为什么)还(没|在)"
          r"|优先(处理|审)|往前(挪|排)|插(个)?队|expedite|hurry|speed (it )?up|asap|push them")
URGE = re.compile(_HURRY + r"|催|还没(好|审|批|下来|出结果|通过|弄完)|faster", re.I)
# In a longer message only an explicit ask to hurry counts ("老板催网站上线…" is not one).
URGE_ASK = re.compile(_HURRY + r"|催(一下|一催|催|审|他们|管局)", re.I)
HELPFUL = re.compile(r"(?<![没不])有帮助|(?<![没不])有用|已解决|帮到(我|了)|管用|好使|解决了|成功了|搞定|弄好了"
                     r"|帮大忙|说得对"
                     r"|helpful|(it |that )?work(s|ed)", re.I)
UNDERSTOOD = re.compile(r"(?<![不没])(懂|明白|清楚)了|原来如此|get到")  # with thanks it is thanks ("明白了，谢啦")
UNHELPFUL = re.compile(r"没(有)?帮助|没(有|啥|什么)?用|不管用|答非所问|没解决|不是我要的"
                       r"|还是不(知道|懂|会|明白|清楚|行)|看不(懂|明白)|没看懂|等于没说|(没|不)(懂|理解)我|理解错|牛头不对马嘴"
                       r"|useless|not helpful|(doesn'?t|didn'?t) help", re.I)
VERDICTS = {"feedback_helpful", "feedback_unhelpful"}
# A request, not a how-to question: "我留个工单", "麻烦查一下备案订单" (but "工单怎么提", "在哪查进度").
HOW_TO = re.compile(r"怎么|怎样|如何|咋|啥|什么|为什么|找不到|在哪|哪里|哪儿|哪个|能不能|可不可以|可以吗|吗|么"
                    r"|\?|？|流程|步骤|入口")
OPEN_TICKET = re.compile(r"(提|开|建|留|交|提交|新建|发)(个|一个|一张|张|下|一下)?(工单|单子)|留(个|一个|一下|条)?言"
                         r"|(让|叫|请)(你们的?)?(人|客服|工作人员|专员|同事).{0,6}(联系|回复|回电|打给)我|回(个|一个)?电话给我")
# "初审过了吗", "我的备案到哪一步了": the state of the user's own filing, not how reviews work.
STATUS_ASK = re.compile(r"(备案|审核|初审|管局|订单|单子|备案号).{0,6}(通过|过|下来|批|审完|好)了?(没|吗|么|没有)"
                        r"|(我的|我们的|我家|俺的|我们公司的?).{0,10}(备案|订单|单子).{0,8}(进度|到哪|状态|怎么样|咋样|如何了|哪一步)")
HOW_TO_CHECK = re.compile(r"怎么|怎样|如何(查|看)|在哪|哪里|哪儿|流程|步骤|入口|多久|多长时间")
LOOK_UP = re.compile(r"(帮|麻烦|给|请|替)(我|忙)?.{0,3}(查|看)(一下|下|看|查)?.{0,8}(订单|备案|进度|审核)")
TASK_ENTITIES = {"order_id", "phone_tail"}  # a number to look up in a message that is not a task
NON_TASK = {"faq", "nlu_fallback", "out_of_scope", "affirm", "deny", "greet", "thanks", "goodbye"}
SHORT = 14
SURE_FAQ = 0.9
HALF_SURE = 0.5
TASKS = {"create_ticket", "ask_order_status", "request_human"}
ASKING = re.compile(r"有没有|能不能|可不可以|怎么|什么|哪")  # "备案成功了有没有证书" asks
ASKS = re.compile(r"[吗么呢?？]\s*$|多少|怎么|怎样|如何|哪|什么|啥|几")
WISH = re.compile(r"希望|盼|期待")  # "谢谢 希望你们尽快处理": a wish with thanks, not an ask to hurry
UNSURE = ("faq", "nlu_fallback", "out_of_scope")  # guesses that name no task


def cue_intent(text: str, predicted: Optional[str], entities: Iterable[str] = (),
               faq_top: float = 0.0) -> Optional[str]:
    """The intent the cues settle for normalized `text` given the classifier's guess, the entity
    types found in it and the FAQ ranking's top confidence, or None."""
    if not text:
        return None
    if COMPLAIN.search(text) and not NOT_COMPLAINING.search(text):
        return "complain"
    if (ANNOYED.search(text) and not NOT_COMPLAINING.search(text) and predicted not in TASKS
            and not OPEN_TICKET.search(text)):
        return "complain"
    if THANKS.search(text) and WISH.search(text) and len(text) <= 2 * SHORT:
        return "thanks"
    if predicted == "ask_order_status" and faq_top >= HALF_SURE and HOW_TO_CHECK.search(text) \
            and not TASK_ENTITIES & set(entities) and not LOOK_UP.search(text):
        return "faq"  # "备案进度怎么查询": how to check, not a lookup
    if predicted in VERDICTS and faq_top >= HALF_SURE and (ASKING.search(text) or ASKS.search(text)):
        return "faq"  # "这个地址不一致是啥意思，我要怎么处理": a question, not a verdict
    if predicted == "complain" and faq_top >= SURE_FAQ and ASKS.search(text):
        return "faq"  # "你们客服电话多少": a plain question the FAQ is sure of, with no complaint word
    if predicted in NON_TASK and TASK_ENTITIES & set(entities):
        return "ask_order_status"  # "再查一个 20261020-2271", "尾号 7 8 7 8"
    if (predicted in UNSURE and STATUS_ASK.search(text)
            and not HOW_TO_CHECK.search(text)):
        return "ask_order_status"
    if predicted in UNSURE and not HOW_TO.search(text):
        if OPEN_TICKET.search(text):
            return "create_ticket"
        if LOOK_UP.search(text):
            return "ask_order_status"
    if predicted not in NON_TASK | VERDICTS or len(text) > SHORT:
        fits = len(text) <= 2 * SHORT or text.isascii()  # English says the same in more characters
        asks = predicted in UNSURE and fits and URGE_ASK.search(text)
        return "urge" if asks else None
    # "公安备案有用吗"
    question = text.rstrip("~～!！。. ").endswith(("吗", "么", "?", "？", "呢")) or ASKING.search(text)
    if UNHELPFUL.search(text) and not question:
        return "feedback_unhelpful"
    if (HELPFUL.search(text) or (UNDERSTOOD.search(text) and not THANKS.search(text))) and not question:
        return "feedback_helpful"
    if GOODBYE.search(text):
        return "goodbye"
    if THANKS.search(text) and predicted not in ("goodbye",):
        return "thanks"
    if URGE.search(text) and predicted in UNSURE:
        return "urge"
    return None
