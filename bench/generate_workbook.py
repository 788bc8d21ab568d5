"""Write a realistic bank workbook: 24 DOMAIN columns, Chinese headers, text numbers, real dates.

    python bench/generate_workbook.py 100000 /tmp/bank-100k.xlsx

Card, ID and phone numbers are text cells (as a careful bank sends them), dates are real
date cells, amounts are numbers with cents. Written with openpyxl's write-only mode.
"""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta

HEADERS = [
    "个案序列号", "档案号", "卡号", "账号", "证件号", "姓名", "性别", "生日", "委案金额", "本金",
    "利息", "滞纳金", "逾期天数", "账龄", "逾期日期", "手机号", "家庭电话", "单位名称", "单位地址",
    "家庭地址", "委案日期", "催收区域", "省份", "城市",
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
CITIES = [("江苏", "南京"), ("江苏", "苏州"), ("浙江", "杭州"), ("上海", "上海"), ("广东", "深圳")]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(rng: random.Random, born: date) -> str:
    first = f"320102{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, WEIGHTS)) % 11]


def rows(count: int, seed: int = 7, prefix: str = "BK"):
    rng = random.Random(seed)
    entrusted = date(2015, 6, 10)
    for n in range(1, count + 1):
        born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 14000))
        days = rng.randint(1, 400)
        principal = round(rng.uniform(1000, 80000), 2)
        interest = round(principal * 0.05, 2)
        fee = round(rng.uniform(0, 500), 2)
        province, city = rng.choice(CITIES)
        yield [
            f"{prefix}-{n:07d}", f"A{n:08d}", f"62220202{n:011d}", f"0101{n:012d}",
            id_number(rng, born), rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            rng.choice("男女"), born, round(principal + interest + fee, 2), principal, interest, fee,
            days, "", entrusted - timedelta(days=days), f"13{rng.randint(0, 999999999):09d}",
            f"025-{rng.randint(10000000, 99999999)}", f"{city}某某科技有限公司",
            f"{province}{city}市建设路{rng.randint(1, 999)}号", f"{province}{city}市人民路{n}号",
            entrusted, city, province, city,
        ]  # fmt: skip


def write(path: str, count: int, seed: int = 7, prefix: str = "BK") -> str:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("案件")
    sheet.append(HEADERS)
    for row in rows(count, seed, prefix):
        sheet.append(row)
    book.save(path)
    return path


if __name__ == "__main__":
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    target = sys.argv[2] if len(sys.argv) > 2 else f"/tmp/bank-{total}.xlsx"
    print(write(target, total))
