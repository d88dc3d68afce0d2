"""The built-in example township: 19 villages, about 52,000 people (the scale of a real 镇)."""

from __future__ import annotations

from datetime import date
from typing import Any

from .registry import Registry, Village

TOWNSHIP = "示例镇"
ORGAN = "示例镇人民政府"

# (code, name, aliases, population) — codes in the style of 统计用区划代码
_VILLAGES = [
    ("340121104201", "青龙村", ("青龙", "青龙村委会"), 2630),
    ("340121104202", "白石村", ("白石",), 3996),
    ("340121104203", "龙泉村", ("龙泉",), 2252),
    ("340121104204", "桃园村", ("桃园",), 2786),
    ("340121104205", "大岗村", ("大岗",), 3346),
    ("340121104206", "王岗村", ("王岗",), 2027),
    ("340121104207", "新河村", ("新河",), 2081),
    ("340121104208", "张湾村", ("张湾",), 3718),
    ("340121104209", "李圩村", ("李圩",), 3094),
    ("340121104210", "三合村", ("三合",), 2128),
    ("340121104211", "双墩村", ("双墩",), 2721),
    ("340121104212", "金桥村", ("金桥",), 3197),
    ("340121104213", "长岭村", ("长岭",), 2049),
    ("340121104001", "花园社区", ("花园社区居委会", "花园"), 3912),
    ("340121104002", "镇北社区", ("镇北社区居委会", "镇北"), 3032),
    ("340121104214", "柳塘村", ("柳塘",), 2391),
    ("340121104215", "枣林村", ("枣林",), 2004),
    ("340121104216", "梅山村", ("梅山",), 2111),
    ("340121104217", "石桥村", ("石桥",), 2871),
]

_PINYIN = [
    "qinglong", "baishi", "longquan", "taoyuan", "dagang", "wanggang", "xinhe", "zhangwan", "liwei", "sanhe",
    "shuangdun", "jinqiao", "changling", "huayuan", "zhenbei", "liutang", "zaolin", "meishan", "shiqiao",
]

# Annual tasks per head of population (births ~8.5‰; others in proportion to the age groups served).
_TASK_RATES = {"task_birth_reg": 0.0085, "task_prepreg": 0.006, "task_child_health": 0.06, "task_elderly": 0.1}


def example_registry(task_ids: list[str] | None = None) -> Registry:
    villages = []
    for i, ((code, name, aliases, pop), py) in enumerate(zip(_VILLAGES, _PINYIN)):
        domain = ("163.com", "qq.com", "126.com")[i % 3]
        emails = (f"{py}_jsb@{domain}",) if i % 4 else (f"{py}_jsb@{domain}", f"{py}cun@foxmail.com")
        tasks = {t: float(round(pop * _TASK_RATES.get(t, 0.01))) for t in (task_ids or list(_TASK_RATES))}
        villages.append(Village(code, name, aliases, emails, pop, tasks))
    return Registry(tuple(villages), source="示例")


# ---- plausible monthly reports for the demo, the benchmark and the tests -------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_GIVEN = "子涵欣怡梓涵晨曦一诺宇轩浩然思远雨桐可馨若曦俊杰博文佳怡嘉懿梦琪雅静婉清明轩志强建国秀英丽娟桂兰海燕文静晓红春梅"


def _name(rng: Any) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def example_id_number(rng: Any, region: str = "340121") -> str:
    from .validate.idcard import check_digit

    born = date(rng.randint(1986, 2001), rng.randint(1, 12), rng.randint(1, 28))
    body = f"{region}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    body = body[:16] + str(rng.choice((0, 2, 4, 6, 8)))  # 17th digit even: a woman
    return body + check_digit(body)


def example_report(village: Village, period: Any, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Plausible, varied monthly figures and a matching birth register for one village and month."""
    import random

    rng = random.Random(f"{village.code}-{period}-{seed}")
    pop = village.population
    tasks = village.tasks

    def monthly(task: str, spread: float = 0.4) -> int:
        base = tasks.get(task, 0) / 12
        return max(0, round(base * rng.uniform(1 - spread, 1 + spread)))

    births = max(0, round(pop * 0.0085 / 12 * rng.uniform(0.3, 1.9)))
    register = []
    for _ in range(births):
        status = rng.choices(("按时上报", "迟报", "未上报"), weights=(85, 12, 3))[0]
        register.append({
            "baby_name": _name(rng),
            "sex": rng.choices(("男", "女"), weights=(52, 48))[0],
            "birth_date": date(period.year, period.month, rng.randint(1, period.last_day.day)),
            "birth_order": rng.choices((1, 2, 3), weights=(55, 38, 7))[0],
            "mother_name": _name(rng),
            "mother_id": example_id_number(rng),
            "report_status": status,
        })
    reported = sum(1 for r in register if r["report_status"] != "未上报")
    deaths = max(0, round(pop * 0.0068 / 12 * rng.uniform(0.3, 1.8)))
    prenatal_due = births + rng.randint(0, 3)
    followups_due = rng.randint(0, 4)
    key_clients = max(1, round(pop * 0.004))
    support_due = rng.choice((0, 0, 2, 3, 5))
    relief_due = rng.choice((0.0, 0.0, 1500.0, 2400.0, 3600.0))
    values = {
        "births_total": births,
        "births_reported": reported,
        "births_reported_late": sum(1 for r in register if r["report_status"] == "迟报"),
        "deaths_total": deaths,
        "deaths_reported_timely": deaths - (1 if deaths and rng.random() < 0.15 else 0),
        "prenatal_due": prenatal_due,
        "prenatal_done": max(0, prenatal_due - rng.choice((0, 0, 0, 1, 1, 2))),
        "birth_registrations": monthly("task_birth_reg", 0.6),
        "prepreg_checks": monthly("task_prepreg", 0.6),
        "followups_due": followups_due,
        "followups_done": max(0, followups_due - rng.choice((0, 0, 1))),
        "key_clients": key_clients,
        "key_clients_phone_ok": max(0, key_clients - rng.randint(0, max(1, key_clients // 4))),
        "dept_info_missing": rng.choices((0, 1, 2), weights=(80, 15, 5))[0],
        "migrant_info_missing": rng.choices((0, 1, 2), weights=(75, 20, 5))[0],
        "households_missed_materials": rng.choices((0, 1, 2, 3), weights=(70, 18, 8, 4))[0],
        "big_campaigns": rng.choices((0, 1), weights=(85, 15))[0],
        "board_updates": rng.choices((0, 1, 2), weights=(15, 75, 10))[0],
        "slogans": rng.randint(6, 15),
        "child_health_managed": monthly("task_child_health", 0.3),
        "newborn_visits": max(0, births - rng.choice((0, 0, 1))),
        "special_family_visits": rng.choices((0, 1, 2), weights=(50, 35, 15))[0],
        "elderly_checks": monthly("task_elderly", 0.5),
        "support_cases_due": support_due,
        "support_cases_paid": max(0, support_due - rng.choice((0, 0, 0, 1))),
        "relief_amount_due": relief_due,
        "relief_amount_paid": relief_due if rng.random() < 0.8 else round(relief_due * 0.9, 2),
        "unit_head": _name(rng),
        "filled_by": _name(rng),
        "phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
        "report_date": date(period.shift(1).year, period.shift(1).month, rng.randint(1, 4)),
    }
    return values, register


def example_values(programme: Any, village: Village, period: Any, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Plausible monthly figures for any programme, from its fields' ``example`` ranges and rules.

    Programme A has its own, richer generator (with a birth register that matches the counts).
    """
    import random

    if programme.id == "qianfen":
        return example_report(village, period, seed)
    rng = random.Random(f"{programme.id}-{village.code}-{period}-{seed}")
    values: dict[str, Any] = {}
    for f in programme.fields:
        lo, hi = (f.example or (0, 10))[:2]
        # a stock (挂果面积) is the village's own and moves little from month to month
        r = random.Random(f"{programme.id}-{village.code}-{f.id}") if f.stock else rng
        if f.type == "integer":  # the ends of a range are rarer than its middle: a month with none is unusual
            values[f.id] = min(int(hi), max(int(lo), round(r.triangular(lo - 0.5, hi + 0.5))))
        else:
            values[f.id] = round(r.uniform(lo, hi), f.decimals or 0)
    ranges = {f.id: (f.example or (0, 10))[:2] for f in programme.fields}
    for _ in range(2):  # make the rules hold: a ≤ b, a = b
        for rule in programme.rules:
            if rule.type == "lte" and ranges[rule.field][1] * 2 >= ranges[rule.other][1]:
                # the cases done of those due (建册 of new pregnancies): most of them, as a real month has — drawn
                # alone, 0 done of 4 due came in one month of ten and the 通报 marked half the communities ※
                share = rng.triangular(0.5, 1.0, 0.95)
                values[rule.field] = min(values[rule.other], round(values[rule.other] * share))
            elif rule.type == "lte" and values[rule.field] > values[rule.other]:
                values[rule.field] = values[rule.other] if rng.random() < 0.5 else rng.randint(0, int(values[rule.other]))
            elif rule.type == "eq":
                values[rule.field] = values[rule.other]
    for f in programme.footer:
        if f.type == "phone":
            values[f.id] = f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
        elif f.type == "date":
            due = period.shift(1)
            values[f.id] = date(due.year, due.month, rng.randint(1, 4))
        elif f.type == "text":
            values[f.id] = _name(rng)
    return values, []
