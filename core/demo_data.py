"""Realistic bank rows for the demo and the benchmarks: what a bank's case workbook holds.

Names, valid 18-digit ID numbers, 19-digit card numbers, mobiles, amounts with cents and
days overdue are drawn from a seeded generator, so every run writes the same workbook.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

#: The 24 columns of a typical bank workbook (DOMAIN.md), in the bank's own words.
HEADERS = [
    "个案序列号", "档案号", "卡号", "账号", "证件号", "姓名", "性别", "生日", "委案金额", "本金",
    "利息", "滞纳金", "逾期天数", "账龄", "逾期日期", "手机号", "家庭电话", "单位名称", "单位地址",
    "家庭地址", "委案日期", "催收区域", "省份", "城市",
]  # fmt: skip
CONTACT_HEADERS = [
    "联系人1姓名",
    "联系人1关系",
    "联系人1电话",
    "联系人2姓名",
    "联系人2关系",
    "联系人2电话",
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
CITIES = [("江苏", "南京"), ("江苏", "苏州"), ("江苏", "无锡"), ("江苏", "常州"), ("江苏", "南通")]
RELATIONS = ["配偶", "父亲", "母亲", "同事", "朋友"]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random, born: date, region: str = "320102") -> str:
    """An 18-digit resident ID with a correct check digit."""
    first = f"{region}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, ID_WEIGHTS)) % 11]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)[: rng.randint(0, 1)]


def bank_rows(
    count: int,
    *,
    seed: int = 7,
    prefix: str = "BK",
    entrusted=date(2015, 6, 10),
    contacts: bool = False,
):
    """Rows of ``HEADERS`` (plus two contacts when asked), card/ID/phone numbers as text."""
    rng = random.Random(seed)
    for n in range(1, count + 1):
        born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 14000))
        days = rng.choice((rng.randint(1, 90), rng.randint(1, 240), rng.randint(91, 720)))
        principal = round(rng.uniform(1000, 80000), 2)
        interest = round(principal * 0.05, 2)
        fee = round(rng.uniform(0, 500), 2)
        province, city = rng.choice(CITIES)
        row = [
            f"{prefix}-{n:07d}", f"A{n:08d}", f"622202{rng.randint(0, 9999999):07d}{n:06d}",
            f"0101{rng.randint(0, 999999):06d}{n:06d}",
            id_number(rng, born), person_name(rng), rng.choice("男女"), born,
            round(principal + interest + fee, 2), principal, interest, fee, days, "",
            entrusted - timedelta(days=days), f"13{rng.randint(0, 999999999):09d}",
            f"025-{rng.randint(10000000, 99999999)}", f"{city}某某科技有限公司",
            f"{province}{city}市建设路{rng.randint(1, 999)}号", f"{province}{city}市人民路{n}号",
            entrusted, city, province, city,
        ]  # fmt: skip
        if contacts:
            for _ in range(2):
                row += [
                    person_name(rng),
                    rng.choice(RELATIONS),
                    f"139{rng.randint(0, 99999999):08d}",
                ]
        yield row


def write_workbook(path, rows, headers=HEADERS, title: str | None = None) -> None:
    """An .xlsx as banks send it (optionally with a title row above the header)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("案件")
    if title:
        sheet.append([title])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
