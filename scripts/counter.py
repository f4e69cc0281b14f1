"""A hospital counter driving the national-interface gateway, as a HIS's national client would:
sign in (9001), read the patient's card (1101), register (2201), record the visit (2203),
upload the fee lines (2204), pre-settle (2206), settle (2207), and reverse (2208) — printing a
short transcript of what it sent and what came back (docs/integrating.md, "Point your
existing national-platform client here").

    python scripts/counter.py --url http://127.0.0.1:18080 --certno 110105198001010011 \
        --fixmedins-code H64010100001 --token "$(python -m devservers token --role hospital \
        --institution H64010100001)" [--keep]

The token is a bearer token with the `hospital` role naming the institution (the gateway acts
for no other; docs/integrating.md). ``make demo`` runs it after the day of Kafka messages,
against the same settlement service, with a token of the local issuer.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

CHINA = timezone(timedelta(hours=8))
# Two lines of the sample catalogue (policies/payer/640000): a consultation and a drug.
LINES = (("001101000010000", "1", "12.00"), ("XJ01DCA015A001010", "2", "18.50"))


class Counter:
    def __init__(self, url: str, fixmedins_code: str, token: str) -> None:
        self.url, self.code, self.token, self.count = url.rstrip("/"), fixmedins_code, token, 0
        self.stamp = datetime.now(CHINA).strftime("%Y%m%d%H%M%S")

    def send(self, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        envelope = {
            "infno": infno,
            "msgid": f"{self.code}{self.stamp}{self.count:04d}",
            "mdtrtarea_admvs": "640100",
            "insuplc_admdvs": "640100",
            "recer_sys_code": "DEMO",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "demo",
            "opter_name": "收费员",
            "inf_time": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": self.code,
            "sign_no": "",
            "input": payload,
        }
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        request = urllib.request.Request(
            f"{self.url}/fsi/api/{infno}", data=json.dumps(envelope).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read(), parse_float=Decimal)
        return answer


def _line(answer: dict[str, Any], infno: str, what: str) -> str:
    status = "ok" if answer.get("infcode") == "0" else f"refused: {answer.get('err_msg')}"
    return f"  {infno} {what:<34} {status}"


def visit(counter: Counter, certno: str, keep: bool, day: str) -> list[str]:
    out: list[str] = []
    today = f"{day} {datetime.now(CHINA):%H:%M:%S}"
    a = counter.send("9001", {"signIn": {"opter_no": "demo", "mac": "", "ip": ""}})
    out.append(_line(a, "9001", f"sign_no {a['output'].get('signinoutb', {}).get('sign_no', '-')}"))
    person = counter.send("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": today}})
    base = person["output"].get("baseinfo", {})
    cover = (person["output"].get("insuinfo") or [{}])[0]
    psn_no, insutype = base.get("psn_no", ""), cover.get("insutype", "")
    out.append(_line(person, "1101", f"psn_no {psn_no}, {insutype}, balc {cover.get('balc', '-')}"))
    reg = counter.send(
        "2201", {"data": {"psn_no": psn_no, "insutype": insutype, "begntime": today, "ipt_otp_no": "MZ1"}}
    )
    mdtrt_id = reg["output"].get("data", {}).get("mdtrt_id", "")
    out.append(_line(reg, "2201", f"mdtrt_id {mdtrt_id}"))
    info = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": today}
    diag = [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "J06.900", "diag_name": "急性上呼吸道感染"}]
    out.append(_line(counter.send("2203", {"mdtrtinfo": info, "diseinfo": diag}), "2203", "visit recorded"))
    rows = [
        {"feedetl_sn": f"L{n}", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1", "fee_ocur_time": today,
         "med_list_codg": code, "medins_list_codg": f"H{n}", "cnt": cnt, "pric": pric,
         "det_item_fee_sumamt": str((Decimal(cnt) * Decimal(pric)).quantize(Decimal("0.01"))), "chrgitm_lv": "01"}
        for n, (code, cnt, pric) in enumerate(LINES, 1)
    ]  # fmt: skip
    fees = counter.send("2204", {"feedetail": rows})
    classes = ", ".join(
        f"{r['feedetl_sn']} {r['chrgitm_lv']} {r['memo'] or ''}".strip() for r in fees["output"].get("result", [])
    )
    out.append(_line(fees, "2204", f"lines priced: {classes}"))
    total = str(sum(Decimal(r["det_item_fee_sumamt"]) for r in rows))
    settle = {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "medfee_sumamt": total,
              "insutype": insutype, "med_type": "11", "acct_used_flag": "1", "mdtrt_cert_type": "02"}  # fmt: skip
    pre = counter.send("2206", {"data": settle})
    out.append(_line(pre, "2206", _money(pre)))
    done = counter.send("2207", {"data": settle})
    setl_id = done["output"].get("setlinfo", {}).get("setl_id", "")
    out.append(_line(done, "2207", f"setl_id {setl_id}; {_money(done)}"))
    if not keep:
        back = counter.send("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
        out.append(_line(back, "2208", f"reversal {back['output'].get('setlinfo', {}).get('setl_id', '-')}"))
    return out


def _money(answer: dict[str, Any]) -> str:
    info = answer["output"].get("setlinfo", {})
    if not info:
        return "-"
    funds, account, cash = info["fund_pay_sumamt"], info["acct_pay"], info["psn_cash_pay"]
    return f"total {info['medfee_sumamt']}: fund {funds}, account {account}, cash {cash}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:18080")
    parser.add_argument("--certno", required=True, help="an ID number in the settlement service's person register")
    parser.add_argument("--fixmedins-code", default="H64010100001")
    parser.add_argument("--token", required=True, help="a bearer token with the hospital role for --fixmedins-code")
    parser.add_argument("--keep", action="store_true", help="leave the settlement in force (no 2208)")
    parser.add_argument("--day", default=f"{datetime.now(CHINA):%Y-%m-%d}", help="the visit's day (yyyy-MM-dd)")
    args = parser.parse_args(argv)
    print(f"a counter at {args.fixmedins_code}, over {args.url}/fsi/api/{{infno}}:")
    lines = visit(Counter(args.url, args.fixmedins_code, args.token), args.certno, args.keep, args.day)
    for line in lines:
        print(line)
    return 1 if any("refused:" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
