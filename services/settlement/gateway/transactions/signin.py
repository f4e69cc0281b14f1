"""9001 签到 / 9002 签退: a counter opens and closes its day.

The gateway authenticates every call by its bearer token, so the sign-in number is given for
the clients that keep it (and send it back as ``sign_no``) but nothing depends on it; nothing
is recorded. 9001's input is ``{signIn: {...}}`` (binzhe) or flat (hsa-his).
"""

from __future__ import annotations

import hashlib

from settlement.gateway.answers import china_time
from settlement.gateway.context import Context, Done
from settlement.gateway.visits import china_naive


async def sign_in(context: Context) -> Done:
    e = context.envelope
    serial = int(hashlib.sha256(f"{e.idempotency_key}".encode()).hexdigest()[:8], 16) % 10**4
    area = e.mdtrtarea_admvs if len(e.mdtrtarea_admvs) == 6 else "000000"
    sign_no = f"{area}{china_naive(context.at):%Y%m%d%H%M%S}{serial:04d}"
    return Done({"signinoutb": {"sign_time": china_time(context.at), "sign_no": sign_no}})


async def sign_out(context: Context) -> Done:
    return Done({"signoutoutb": {"sign_time": china_time(context.at)}})
