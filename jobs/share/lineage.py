"""`lake.ops.share_request` and `lake.ops.share_request_history`, documented: made from the
requests people make and the sharing policy that decides who answers and by when."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns
from jobs.share.requests import HISTORY, REQUEST, REQUESTS, STEP

REQUEST_COLUMNS = {
    "request_id": ("申请编号", "request id: sr-<day>-<6 hex>"),
    "requested_by": ("申请人", "the user who asked (conf/sharing.yml)"),
    "consumer": ("申请单位代码", "the department code or district division code the user acts for"),
    "consumer_name": ("申请单位", "the consumer's name"),
    "table_name": ("申请的表", "the lake table asked for, <layer>.<table>"),
    "columns": ("申请的字段", "the columns asked for; NULL: all"),
    "cleartext": ("是否申请明文", "whether the personal columns are asked for in clear"),
    "purpose": ("用途", "what the data is for"),
    "until": ("使用期限", "last day of use (the approval ends at that day's end)"),
    "sharing": ("共享类型", "the table's class when asked: unconditional, conditional"),
    "owner": ("数据提供部门", "the owner department that answers"),
    "status": ("状态", "pending, approved, rejected, revoked or expired"),
    "requested_at": ("申请时间", "when it was asked"),
    "reply_due": ("答复期限", "the day the owner must answer by (working days per class)"),
    "answered_by": ("答复人", "who answered last (citylake share for what the policy decides)"),
    "answered_at": ("答复时间", "when"),
    "reason": ("答复说明", "why"),
    "revision": ("版本", "steps so far (1 when asked)"),
}
STEP_COLUMNS = {
    "request_id": ("申请编号", "request id"),
    "revision": ("版本", "the request's revision this step made"),
    "from_status": ("原状态", "status before the step (empty when asked)"),
    "to_status": ("新状态", "status after the step"),
    "changed_at": ("变更时间", "when"),
    "changed_by": ("变更人", "who: the requester, the owner, an admin, or citylake share"),
    "reason": ("原因", "the purpose when asked, else why"),
}


def declared(catalog: Catalog) -> Declared:
    tables = (
        TableDoc(REQUESTS, "共享申请：每个申请的当前状态（有条件共享的申请、答复、撤销、到期）",
                 "Share requests: each request's current state (asked, answered, revoked, expired)",
                 "one row per request", ("request_id",), schema_columns(REQUEST, REQUEST_COLUMNS)),
        TableDoc(HISTORY, "共享申请历史：每个申请的每一步，含操作人和原因",
                 "Every step of every share request, with who and why",
                 "one row per request and revision", ("request_id", "revision"), schema_columns(STEP, STEP_COLUMNS)),
    )
    edges = (Edge(REQUESTS, configuration("sharing.yml"), "configuration", "classes, owners, reply deadlines"),
             Edge(HISTORY, REQUESTS, "history", "every step"))
    return Declared(tables=tables, edges=edges)
