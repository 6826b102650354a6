"""Pure functions that put customer data into comparable form: credit codes, phone
numbers, company names (for duplicate detection and search)."""

from __future__ import annotations

import re
import unicodedata

# GB 32100-2015: the unified social credit code (统一社会信用代码).
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def credit_code_normalize(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip().upper().replace(" ", "")


def credit_code_is_valid(code: str) -> bool:
    """18 characters of the code's alphabet, with a correct check character."""
    if not _CREDIT_RE.match(code or ""):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def phone_digits(raw: str) -> str:
    """The digits of a phone number in domestic form: '+86 138-0013-8000' and '13800138000'
    compare equal, and so do '+86 755 2878 0808' and '0755-2878 0808' (the trunk 0 returns
    when the country code goes)."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw or ""))
    rest = None
    if digits.startswith("0086"):
        rest = digits[4:]
    elif digits.startswith("86") and len(digits) >= 12:
        rest = digits[2:]
    if rest is not None:
        mobile = rest.startswith("1") and len(rest) == 11
        digits = rest if mobile or rest.startswith("0") else "0" + rest
    return digits


def phone_is_plausible(raw: str) -> bool:
    digits = phone_digits(raw)
    return 5 <= len(digits) <= 15 and not re.search(r"[^\d\s()+\-.－—（）#转ext]", unicodedata.normalize("NFKC", raw or ""), re.I)


# Legal-form endings that do not tell two companies apart, longest first.
_LEGAL_SUFFIXES = sorted({
    "集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "股份公司",
    "集团公司", "总公司", "分公司", "公司", "集团", "有限",
    "coltd", "co", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "company",
    "group", "llc", "plc", "gmbh",
}, key=len, reverse=True)
_BRACKETED = re.compile(r"[(\[【（][^()\[\]【】（）]{1,12}[)\]】）]")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def company_name_normalize(name: str) -> str:
    """A key under which spellings of one company meet: full-width folded to half-width,
    bracketed notes (usually a city: 华为技术（深圳）有限公司) and punctuation dropped,
    legal-form suffixes (有限公司, 股份有限公司, 集团, Co., Ltd.) stripped."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = _BRACKETED.sub("", text)
    text = _PUNCT.sub("", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in _LEGAL_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
                break
    return text
