"""`lake.ops.exchange_send` and `lake.ops.exchange_receipt`, documented, and the packages the
exchange sends out of the lake: to the province (报送), to the districts (回流), as open data."""

from __future__ import annotations

from citylake.catalog import Catalog
from jobs.catalog.model import Declared, Edge, TableDoc, configuration, schema_columns
from jobs.exchange.ledger import RECEIPT, RECEIPTS, SEND, SENDS

REPORT = "package:exchange/report"
BACKFLOW = "package:exchange/backflow"
OPEN = "package:open"
RECEIPTS_IN = "receipts:province"

SEND_COLUMNS = {
    "package_id": ("交换包编号", "The package id: <table>-v<version>-<12 hex of its content> (a district's: <code>-<hex>)."),
    "kind": ("交换类型", "report (报送 to the province), backflow (回流 to a district) or open (开放数据)."),
    "target": ("接收方", "The province's division code, the district's, or public."),
    "resource": ("资源", "The resource or table sent; a back-flow: backflow:<district code>."),
    "tables": ("表及版本", "The lake tables read, as <layer>.<table>@<Delta version>."),
    "rows": ("行数", "Rows in the package's files."),
    "files": ("文件数", "Data files in the package."),
    "checksum": ("校验和", "sha256 of the package's manifest.json (which holds every file's sha256)."),
    "path": ("路径", "The package's folder."),
    "resend": ("是否重发", "Whether the same package had been sent before (citylake exchange ... --resend)."),
    "sent_at": ("发送时间", "When it was sent."),
    "status": ("状态", "sent, then accepted or rejected by the receiver's receipt."),
    "receipt": ("回执", "The receipt as returned (JSON)."),
    "receipt_at": ("回执时间", "When the receipt was read."),
}
RECEIPT_COLUMNS = {
    "receipt_file": ("回执文件", "The receipt file's name as dropped into the receipts folder."),
    "sha256": ("文件校验和", "sha256 of the receipt file: the same receipt is recorded once."),
    "package_id": ("交换包编号", "The package it answers (NULL when the file is not a receipt)."),
    "outcome": ("处理结果", "recorded, or refused (quarantined) with the reason."),
    "accepted": ("是否接收", "The receiver's answer: accepted (true) or rejected (false)."),
    "rows": ("回执行数", "Rows the receiver counted."),
    "message": ("回执说明", "The receiver's message."),
    "reason": ("拒收原因", "Why a receipt was refused: unknown package, counts that disagree, not a receipt."),
    "read_at": ("读取时间", "When it was read."),
}


def declared(catalog: Catalog) -> Declared:
    tables = (
        TableDoc(SENDS, "数据交换发送记录：每一次报送、回流和开放数据的发送，及其回执。",
                 "Exchange sends: every package sent to the province, a district or as open data, with its receipt.",
                 "one row per send", ("package_id", "sent_at"), schema_columns(SEND, SEND_COLUMNS)),
        TableDoc(RECEIPTS, "数据交换回执：读取的每一个回执文件，记录或拒收（及原因）。",
                 "Exchange receipts: every receipt file read, recorded or refused with the reason.",
                 "one row per receipt file read", ("sha256",), schema_columns(RECEIPT, RECEIPT_COLUMNS)),
    )
    shared = [resource for resource in catalog.resources if resource.sharing != "not_shared"]
    edges = (
        *(Edge(REPORT, f"integrated.{resource.table_name}", "export", "the current state, in clear, to the province")
          for resource in shared),
        Edge(BACKFLOW, configuration("sharing.yml"), "configuration",
             "the tables a district reads, its rows and masks (citylake.access)"),
        *(Edge(OPEN, f"integrated.{resource.table_name}", "export", "personal data elements removed")
          for resource in catalog.resources if resource.sharing == "unconditional"),
        Edge(SENDS, REPORT, "ledger", "every send"),
        Edge(SENDS, BACKFLOW, "ledger", "every send"),
        Edge(SENDS, OPEN, "ledger", "every package published"),
        Edge(SENDS, RECEIPTS, "ledger", "status and receipt of the package"),
        Edge(RECEIPTS, RECEIPTS_IN, "ledger", "receipt files the province returns"),
    )
    return Declared(tables, edges)
