"""What each entity looks like: regular expressions and the province table, in one place."""
from __future__ import annotations

import re
from datetime import datetime

# Canonical name, the forms people write it in, and the one-character ICP abbreviation(s).
PROVINCES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("北京", ("北京市", "北京"), "京"),
    ("天津", ("天津市", "天津"), "津"),
    ("河北", ("河北省", "河北"), "冀"),
    ("山西", ("山西省", "山西"), "晋"),
    ("内蒙古", ("内蒙古自治区", "内蒙古", "内蒙"), "蒙"),
    ("辽宁", ("辽宁省", "辽宁"), "辽"),
    ("吉林", ("吉林省", "吉林"), "吉"),
    ("黑龙江", ("黑龙江省", "黑龙江"), "黑"),
    ("上海", ("上海市", "上海"), "沪"),
    ("江苏", ("江苏省", "江苏"), "苏"),
    ("浙江", ("浙江省", "浙江"), "浙"),
    ("安徽", ("安徽省", "安徽"), "皖"),
    ("福建", ("福建省", "福建"), "闽"),
    ("江西", ("江西省", "江西"), "赣"),
    ("山东", ("山东省", "山东"), "鲁"),
    ("河南", ("河南省", "河南"), "豫"),
    ("湖北", ("湖北省", "湖北"), "鄂"),
    ("湖南", ("湖南省", "湖南"), "湘"),
    ("广东", ("广东省", "广东"), "粤"),
    ("广西", ("广西壮族自治区", "广西"), "桂"),
    ("海南", ("海南省", "海南"), "琼"),
    ("重庆", ("重庆市", "重庆"), "渝"),
    ("四川", ("四川省", "四川"), "蜀川"),
    ("贵州", ("贵州省", "贵州"), "黔贵"),
    ("云南", ("云南省", "云南"), "滇云"),
    ("西藏", ("西藏自治区", "西藏"), "藏"),
    ("陕西", ("陕西省", "陕西"), "陕秦"),
    ("甘肃", ("甘肃省", "甘肃"), "陇甘"),
    ("青海", ("青海省", "青海"), "青"),
    ("宁夏", ("宁夏回族自治区", "宁夏"), "宁"),
    ("新疆", ("新疆维吾尔自治区", "新疆"), "新"),
)

PROVINCE_BY_FORM = {form: name for name, forms, _ in PROVINCES for form in forms}
PROVINCE_BY_ABBR = {a: name for name, _, abbrs in PROVINCES for a in abbrs}
# The abbreviation that opens an ICP number (the first one listed for each province).
ICP_ABBRS = "".join(abbrs[0] for _, _, abbrs in PROVINCES)

_FORMS = "|".join(sorted(PROVINCE_BY_FORM, key=len, reverse=True))
_TLDS = (
    "com|cn|net|org|gov|edu|top|xyz|vip|info|io|cc|tv|me|site|online|shop|club|ltd|co|biz|"
    "tech|store|wang|work|ink|fun|link|cloud|art|red|pro|asia|mobi|name|hk|"
    "中国|公司|网络|政务|公益|网址|在线"
)
# ASCII labels: a Chinese label cannot be told apart from the sentence around it.
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

# Each pattern finds candidate spans in normalized text; `canonical` turns a match into a value.
# People type numbers in groups ("ICP 2026 1127 00087", "2026 1118-3306"): single spaces inside count.
ORDER_ID = re.compile(r"(?<![a-z0-9])(?:icp ?(?:\d ?){12}\d|(?:\d ?){7}\d ?- ?(?:\d ?){3}\d)(?![0-9])", re.I)
ICP_NUMBER = re.compile(rf"[{ICP_ABBRS}]\s?icp\s?备\s?\d{{6,10}}\s?号(?:\s?-\s?\d{{1,3}})?", re.I)
MOBILE = re.compile(r"1[3-9]\d{9}")  # a mainland mobile number, digits only (use fullmatch)
PHONE_TAIL = re.compile(
    r"(?:(?:手机号?码?)?(?:尾号|尾数|后四位|后4位|末四位|末4位|最后四位|最后4位|后四个数字?)\s*(?:是|为|:)?"
    r"|(?:last\s*(?:4|four)(?:\s*digits?)?|ends?\s*(?:with|in))\s*(?:is|are|:)?)\s*(?:\d ?){3}\d(?![0-9])",
    re.I)
PHONE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
# A contact e-mail inside a sentence; its TLD is ASCII, so "li@example.cn，谢谢" stops at the comma.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                   r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
DOMAIN = re.compile(
    rf"(?<![a-z0-9.@-])(?:https?://)?(?:{_DOMAIN_LABEL}\.)+(?:{_TLDS})(?![a-z0-9-])", re.I
)
# A bare abbreviation is too ambiguous (云 in 华为云, 新 in 新网站); only "苏管局", "粤通管局" count.
PROVINCE = re.compile(rf"{_FORMS}|[{''.join(PROVINCE_BY_ABBR)}]通?管局")

ORDER_ID_FULL = re.compile(r"(?:ICP\d{13}|\d{8}-\d{4})")


def is_order_id(value: str) -> bool:
    """Both order formats open with a real calendar date (ICP20261104xxxxx, 20261104-xxxx)."""
    value = value.strip().upper()
    if not ORDER_ID_FULL.fullmatch(value):
        return False
    digits = value[3:11] if value.startswith("ICP") else value[:8]
    try:
        datetime.strptime(digits, "%Y%m%d")
    except ValueError:
        return False
    return True


def canonical(label: str, text: str) -> str | None:
    """The normalized value of a matched span, or None when the span is not really one."""
    compact = re.sub(r"\s", "", text)
    if label == "order_id":
        value = compact.upper()
        return value if is_order_id(value) else None
    if label == "icp_number":
        m = re.fullmatch(r"(.)icp备(\d{6,10})号(-\d{1,3})?", compact, re.I)
        return f"{m[1]}ICP备{m[2]}号{m[3] or ''}" if m else None
    if label == "phone":
        digits = re.sub(r"\D", "", compact)
        return digits[-11:]
    if label == "phone_tail":
        return compact[-4:]
    if label == "email":
        return compact.lower()
    if label == "domain":
        return re.sub(r"^https?://", "", compact, flags=re.I).lower()
    if label == "province":
        return PROVINCE_BY_FORM.get(compact) or PROVINCE_BY_ABBR.get(compact[:1])
    return compact


LABELLED_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("icp_number", ICP_NUMBER),
    ("order_id", ORDER_ID),
    ("phone", PHONE),
    ("phone_tail", PHONE_TAIL),
    ("email", EMAIL),
    ("domain", DOMAIN),
    ("province", PROVINCE),
)
