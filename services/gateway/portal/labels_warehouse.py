"""Names for the codes of the warehouse's pages (receipts, stock, returns, reconciliation), taken
into `labels.TABLES`."""

from __future__ import annotations

SCAN_KIND = {"stock": "新件入库", "rma": "旧件签收", "inspection": "工厂检验"}
SCAN_OUTCOME = {"accepted": "已入账", "rejected": "未入账"}
SCAN_STAGE = {"stock": "入库", "warehouse": "备件库签收", "factory": "工厂签收", "inspection": "工厂检验"}
MOVEMENT_KIND = {
    "receipt": "入库",
    "transfer": "调拨",
    "issue": "发放",
    "consumption": "使用",
    "return": "旧件返回",
    "scrap": "报废",
    "adjustment": "盘点调整",
}
DISCREPANCY_KIND = {
    "consumed_not_returned": "已使用未返旧件",
    "returned_not_issued": "返回多于发放",
    "quantity_mismatch": "数量不符",
    "serial_mismatch": "序列号不符",
}
FIGURE = {
    "opening": "期初良品",
    "received": "入库",
    "issued": "发放",
    "consumed": "使用",
    "returned": "旧件返回",
    "forwarded": "旧件返厂",
    "scrapped": "报废",
    "adjusted": "盘点调整",
    "closing": "期末良品",
    "on_hand": "在库良品",
    "defective_on_hand": "在库旧件",
    "open_rmas": "未返旧件单",
}
LOCATION_KIND = {"warehouse": "备件库", "outlet": "网点", "factory": "工厂"}

WAREHOUSE_TABLES = {
    "scan_kind": SCAN_KIND,
    "scan_outcome": SCAN_OUTCOME,
    "scan_stage": SCAN_STAGE,
    "movement_kind": MOVEMENT_KIND,
    "discrepancy_kind": DISCREPANCY_KIND,
    "figure": FIGURE,
    "location_kind": LOCATION_KIND,
}
