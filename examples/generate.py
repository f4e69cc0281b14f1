"""Write examples/year-2025.jsonl: one person of each kind through each visit kind the seeds
name, over 2025, in the order a day-by-day feed would deliver them.

Run: .venv/bin/python examples/generate.py > examples/year-2025.jsonl
Amounts are yuan strings, as a hospital system would send them.
"""

from __future__ import annotations

import json
from typing import Any

REGION = "640100"  # 银川市: priced under the Ningxia-wide policies (640000)
lines: list[dict[str, Any]] = []
seq = 0


def _rid(prefix: str) -> str:
    global seq
    seq += 1
    return f"{prefix}-{seq:04d}"


def sent(day: str) -> str:
    return f"{day}T09:00:00+08:00"


def enrol(psn: str, insutype: str, psn_type: str, enrol_date: str, **facts: Any) -> None:
    lines.append(
        {
            "msg_type": "enrolment",
            "request_id": _rid("ENR"),
            "sent_at": sent(enrol_date),
            "psn_no": psn,
            "insutype": insutype,
            "psn_type": psn_type,
            "insuplc_admdvs": REGION,
            "year": 2025,
            "enrol_date": enrol_date,
            **facts,
        }
    )


def credit(psn: str, month: int) -> None:
    lines.append(
        {
            "msg_type": "account_credit",
            "request_id": _rid("ACR"),
            "sent_at": sent(f"2025-{month:02d}-01"),
            "psn_no": psn,
            "year": 2025,
            "month": month,
        }
    )


def item(sn: str, code: str, name: str, lv: str, pric: str, cnt: str = "1", **extra: Any) -> dict[str, Any]:
    from decimal import ROUND_HALF_UP, Decimal

    amount = (Decimal(pric) * Decimal(cnt)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {
        "feedetl_sn": sn,
        "hilist_code": code,
        "hilist_name": name,
        "chrgitm_lv": lv,
        "pric": pric,
        "cnt": cnt,
        "det_item_fee_sumamt": str(amount),
        **extra,
    }


HOSPITALS = {
    "H3": {
        "fixmedins_code": "H64010100001",
        "fixmedins_name": "宁夏医科大学总医院",
        "fixmedins_kind": "hospital",
        "fixmedins_level": "3",
        "dual_channel_designated": True,
    },
    "H2": {
        "fixmedins_code": "H64010100002",
        "fixmedins_name": "银川市第二人民医院",
        "fixmedins_kind": "hospital",
        "fixmedins_level": "2",
    },
    "C": {
        "fixmedins_code": "H64010100003",
        "fixmedins_name": "兴庆区社区卫生服务中心",
        "fixmedins_kind": "primary_care",
    },
    "NET": {
        "fixmedins_code": "H64010100004",
        "fixmedins_name": "自治区人民医院互联网医院",
        "fixmedins_kind": "internet_hospital",
        "fixmedins_level": "3",
    },
    "DCP": {
        "fixmedins_code": "P64010100001",
        "fixmedins_name": "银川国大药房(双通道)",
        "fixmedins_kind": "dual_channel_pharmacy",
        "dual_channel_designated": True,
    },
    "RP": {"fixmedins_code": "P64010100002", "fixmedins_name": "银川百姓大药房", "fixmedins_kind": "retail_pharmacy"},
}
ATTENDING = {"dr_code": "D001", "dr_name": "李主治", "dr_title": "attending"}
RESIDENT_DR = {"dr_code": "D002", "dr_name": "王住院", "dr_title": "resident"}


def claim(
    psn: str,
    insutype: str,
    where: str,
    med_type: str,
    begin: str,
    end: str,
    items: list[dict[str, Any]],
    request_id: str | None = None,
    **extra: Any,
) -> str:
    rid = request_id or _rid("CLM")
    lines.append(
        {
            "msg_type": "claim",
            "request_id": rid,
            "sent_at": sent(end),
            "psn_no": psn,
            "insutype": insutype,
            "mdtrt_id": f"MD-{rid}",
            **HOSPITALS[where],
            "med_type": med_type,
            "begndate": begin,
            "enddate": end,
            "items": items,
            **extra,
        }
    )
    return rid


def stay(total_a: str, total_b: str, b_cap: str | None = None) -> list[dict[str, Any]]:
    """A stay: 甲类 care, a 乙类 drug (10% 先行自付, maybe above its price cap), a 丙类 item."""
    b_extra = {"selfpay_prop": "0.10"} | ({"pric_uplmt_amt": b_cap} if b_cap else {})
    return [
        item("1", "001102000010000", "床位费及护理", "01", total_a),
        item("2", "XJ01DCA015A001010", "头孢曲松钠注射剂", "02", total_b, **b_extra),
        item("3", "C00000000001", "单人病房差价", "03", "300.00"),
    ]


# --- people ---------------------------------------------------------------------------------
enrol(
    "P001",
    "310",
    "in_service",
    "2024-12-20",
    psn_name="张伟",
    contribution_base="8000.00",
    acct_opening_balance="1200.00",
    continuous_years=9,
    family_members=[{"psn_no": "P005", "relation": "child"}],
    registered_diseases=["E11"],
)
enrol(
    "P002",
    "310",
    "retired",
    "2024-12-20",
    psn_name="李秀英",
    acct_opening_balance="3500.00",
    continuous_years=30,
    registered_diseases=["N18", "I10"],
)
enrol("P003", "310", "flexible", "2025-01-15", psn_name="王磊", contribution_base="4500.00", first_enrolment=True)
enrol(
    "P004",
    "390",
    "adult",
    "2024-11-02",
    psn_name="刘洋",
    continuous_years=6,
    zero_claim_years=1,
    registered_diseases=["C50"],
)
enrol("P005", "390", "student", "2024-10-08", psn_name="张小明", continuous_years=8, birth_date="2012-05-01")
enrol("P006", "390", "newborn", "2025-05-20", psn_name="陈宝宝", birth_date="2025-04-10", in_collection_period=False)
enrol("P007", "390", "adult", "2025-03-15", psn_name="赵强", in_collection_period=False, break_years=2)
enrol("P008", "390", "elderly", "2024-09-15", psn_name="孙桂兰", aid_category="destitute", continuous_years=10)
enrol(
    "P009", "390", "adult", "2024-12-01", psn_name="周建国", aid_category="impoverished_by_illness", continuous_years=3
)
enrol(
    "P010",
    "390",
    "adult",
    "2025-04-10",
    psn_name="吴敏",
    in_collection_period=False,
    prior_cover={"left_scheme": "staff", "left_on": "2025-02-28"},
)
enrol("P011", "390", "elderly", "2024-10-20", psn_name="郑淑珍", registered_diseases=["E11"], continuous_years=7)
for month in (1, 2, 3, 4, 5, 6):
    credit("P001", month)
    credit("P002", month)

# --- January–March ----------------------------------------------------------------------------
claim(
    "P001",
    "310",
    "C",
    "11",
    "2025-01-08",
    "2025-01-08",
    [
        item("1", "001101000010000", "普通门诊诊查费", "01", "25.00"),
        item("2", "XA10BAA002A001010", "二甲双胍片", "01", "12.80", "3"),
    ],
    acct_used_flag=True,
)
claim(
    "P011",
    "390",
    "C",
    "11",
    "2025-01-10",
    "2025-01-10",
    [item("1", "XA10BAA002A001010", "二甲双胍片", "01", "12.80", "10")],
    dise_codg="E11",
)
claim(
    "P004",
    "390",
    "NET",
    "11",
    "2025-01-15",
    "2025-01-15",
    [
        item("1", "001101000020000", "互联网复诊", "01", "30.00"),
        item("2", "XC09AAA001A001010", "卡托普利片", "02", "18.50", "4", selfpay_prop="0.05"),
    ],
)
big = claim(
    "P004",
    "390",
    "H3",
    "22",
    "2025-02-03",
    "2025-02-20",
    stay("86000.00", "24000.00", "20000.00"),
    drg_code="ES23",
    drg_weight="3.2",
    diagnoses=[{"diag_code": "C50.9", "diag_name": "乳腺恶性肿瘤", "maindiag_flag": True}],
)
lines.append(dict(lines[-1]))  # the HIS retries the same request: must settle once
claim(
    "P003",
    "310",
    "H2",
    "11",
    "2025-03-05",
    "2025-03-05",
    [
        item("1", "001101000010000", "普通门诊诊查费", "01", "20.00"),
        item("2", "XJ01CAA001A001010", "阿莫西林胶囊", "01", "9.60", "2"),
    ],
)
claim(
    "P002",
    "310",
    "H2",
    "23",
    "2025-03-10",
    "2025-03-24",
    stay("21000.00", "6000.00"),
    dip_code="N18.5",
    dip_score="1850",
    acct_used_flag=True,
)
claim(
    "P002",
    "310",
    "H3",
    "14",
    "2025-03-28",
    "2025-03-28",
    [item("1", "003107000010000", "血液透析", "01", "420.00", "3")],
    dise_codg="N18",
    acct_used_flag=True,
)
claim("P999", "390", "C", "11", "2025-03-30", "2025-03-30", [item("1", "X", "诊查费", "01", "10.00")])

# --- April–June -------------------------------------------------------------------------------
claim("P006", "390", "H2", "21", "2025-04-12", "2025-04-22", stay("5400.00", "1200.00"))
claim("P010", "390", "H2", "21", "2025-03-20", "2025-03-26", stay("7800.00", "900.00"))
claim(
    "P005",
    "390",
    "H2",
    "21",
    "2025-04-02",
    "2025-04-09",
    stay("4200.00", "800.00"),
    acct_used_flag=True,
    acct_payer_psn_no="P001",
    acct_payer_relation="child",
)
claim(
    "P001",
    "310",
    "DCP",
    "41",
    "2025-04-15",
    "2025-04-15",
    [
        item(
            "1",
            "XL01XEA000A001010",
            "奥希替尼片(谈判药)",
            "02",
            "5100.00",
            "1",
            selfpay_prop="0.05",
            hi_nego_drug_flag=True,
        )
    ],
    resp_physician=ATTENDING,
    acct_used_flag=True,
)
claim(
    "P004",
    "390",
    "H2",
    "11",
    "2025-04-20",
    "2025-04-20",
    [
        item(
            "1",
            "XL01XEA000A001010",
            "奥希替尼片(谈判药)",
            "02",
            "5100.00",
            "1",
            selfpay_prop="0.05",
            hi_nego_drug_flag=True,
        )
    ],
    resp_physician=RESIDENT_DR,
)
claim(
    "P001",
    "310",
    "RP",
    "41",
    "2025-05-06",
    "2025-05-06",
    [
        item("1", "XR05XAA000A001010", "感冒灵颗粒", "01", "16.50", "2"),
        item("2", "Z00000000002", "蛋白粉", "03", "198.00", excluded_category="wellness"),
    ],
    acct_used_flag=True,
)
wrong = claim("P008", "390", "H3", "21", "2025-05-10", "2025-05-25", stay("32000.00", "8000.00"))
lines.append(
    {
        "msg_type": "reversal",
        "request_id": _rid("REV"),
        "sent_at": sent("2025-05-26"),
        "psn_no": "P008",
        "fixmedins_code": HOSPITALS["H3"]["fixmedins_code"],
        "setl_id": "@" + wrong,
        "reason": "费用明细上传有误,撤销重结",
    }
)
claim("P008", "390", "H3", "21", "2025-05-10", "2025-05-25", stay("31500.00", "8000.00"), mdtrt_id="MD-" + wrong)
claim("P007", "390", "C", "11", "2025-06-03", "2025-06-03", [item("1", "001101000010000", "诊查费", "01", "15.00")])
claim("P009", "390", "H3", "21", "2025-06-05", "2025-06-28", stay("46000.00", "9000.00"))

# --- July–December ----------------------------------------------------------------------------
claim("P009", "390", "H3", "21", "2025-08-02", "2025-08-21", stay("38000.00", "7000.00"))
claim("P003", "310", "H2", "21", "2025-08-11", "2025-08-16", stay("9000.00", "2000.00"))
claim("P007", "390", "H2", "21", "2025-09-01", "2025-09-08", stay("6500.00", "1100.00"))
claim(
    "P004",
    "390",
    "H3",
    "22",
    "2025-10-09",
    "2025-10-30",
    stay("120000.00", "30000.00"),
    drg_code="ES23",
    drg_weight="3.2",
)
claim(
    "P011",
    "390",
    "C",
    "11",
    "2025-11-03",
    "2025-11-03",
    [item("1", "XA10BAA002A001010", "二甲双胍片", "01", "12.80", "30")],
    dise_codg="E11",
)
claim(
    "P002",
    "310",
    "C",
    "11",
    "2025-11-20",
    "2025-11-20",
    [item("1", "XC08CAA001A001010", "氨氯地平片", "01", "8.60", "30")],
    dise_codg="I10",
    acct_used_flag=True,
)
claim(
    "P004",
    "390",
    "H3",
    "11",
    "2025-12-01",
    "2025-12-01",
    [item("1", "001101000010000", "诊查费", "01", "50.00")],
    dise_codg="E11",
)
lines.append(
    {
        "msg_type": "claim",
        "request_id": "CLM-BAD",
        "sent_at": sent("2025-12-02"),
        "psn_no": "P004",
        "insutype": "390",
        "mdtrt_id": "MD-BAD",
        **HOSPITALS["C"],
        "med_type": "11",
        "begndate": "2025-12-02",
        "enddate": "2025-12-02",
        "items": [item("1", "X", "诊查费", "01", "10.005")],
    }
)


def _resolve_reversals() -> None:
    """A reversal names the settlement id the service returned: deterministic from the request."""
    import hashlib

    for line in lines:
        if line["msg_type"] == "reversal" and line["setl_id"].startswith("@"):
            original = next(x for x in lines if x.get("request_id") == line["setl_id"][1:])
            key = f"{original['fixmedins_code']}:{original['request_id']}"
            line["setl_id"] = f"S2025-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


if __name__ == "__main__":
    _resolve_reversals()
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    print("not json at all")
