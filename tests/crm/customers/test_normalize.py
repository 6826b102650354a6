import pytest

from crm.customers.normalize import (
    company_name_normalize,
    credit_code_check_char,
    credit_code_is_valid,
    phone_digits,
)


def test_known_credit_code_check_characters():
    # published codes with their check characters
    assert credit_code_is_valid("91350100M000100Y43")
    assert not credit_code_is_valid("91350100M000100Y44")
    assert not credit_code_is_valid("91350100M000100Y4")  # 17 characters
    assert not credit_code_is_valid("91350100M000100I43")  # I is not in the alphabet
    body = "91110000123456789"
    assert credit_code_is_valid(body + credit_code_check_char(body))


@pytest.mark.parametrize("a, b", [
    ("华为技术有限公司", "华为技术（深圳）有限公司"),
    ("北京合众思壮科技股份有限公司", "北京合众思壮科技有限公司"),
    ("腾讯科技(深圳)有限公司", "腾讯科技（深圳）有限公司"),
    ("ＡＢＣ贸易有限公司", "abc贸易公司"),
    ("远景集团", "远景 集团有限公司"),
    ("Acme Co., Ltd.", "ACME Company Limited"),
])
def test_spellings_of_one_company_meet(a, b):
    assert company_name_normalize(a) == company_name_normalize(b)


def test_different_companies_stay_apart():
    assert company_name_normalize("华为技术有限公司") != company_name_normalize("华为终端有限公司")
    assert company_name_normalize("有限公司")  # never normalised to nothing
    assert company_name_normalize("公司") == "公司"


@pytest.mark.parametrize("raw, digits", [
    ("+86 138-0013-8000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("010-6552 9988", "01065529988"),
    ("+86 10 6552 9988", "01065529988"),
    ("+86 755 2878 0808", "075528780808"),
    ("（０２１）５０８８１２３４", "02150881234"),
])
def test_phone_digits(raw, digits):
    assert phone_digits(raw) == digits
