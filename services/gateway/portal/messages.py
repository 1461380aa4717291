"""The portal's Chinese for what the services say in English: marshmallow's messages, the
gateway's own (accounts, sign-in) and the common errors. A message it does not know is shown
as the service wrote it, so nothing is ever hidden.

Add a line to `EXACT` or `PATTERNS` when a page shows a service's message in English.
"""

from __future__ import annotations

import re

EXACT = {
    # marshmallow
    "Missing data for required field.": "必填",
    "Field may not be null.": "不能为空",
    "Invalid value.": "值无效",
    "Not a valid string.": "不是有效的文本",
    "Not a valid integer.": "请输入整数",
    "Not a valid number.": "请输入数字",
    "Number too large.": "数字太大",
    "Not a valid boolean.": "请选择是或否",
    "Not a valid date.": "日期无效（格式：年-月-日）",
    "the database is busy or unreachable; try again": "系统繁忙（数据库暂时无法访问），请稍后重试",
    "Must be a month YYYY-MM between 1970-01 and 2099-12.": "月份无效（格式：年-月，1970-01 至 2099-12）",
    "Not a valid datetime.": "时间无效",
    "Not a valid list.": "不是有效的列表",
    "Unknown field.": "未知字段",
    "Invalid input type.": "输入类型无效",
    "Special numeric values (nan or infinity) are not permitted.": "请输入有效的数字",
    "Outside mainland China.": "位置不在中国大陆范围内",
    "Must be HH:MM.": "时间格式为 时:分（如 08:30）",
    "Required for an RMA receipt or inspection.": "旧件签收须填写返厂单号",
    "Required for a stock receipt.": "新件入库须选择配件",
    "each serial once": "序列号不能重复",
    # intake: registering a request, the workflow
    "Not a valid phone number.": "电话号码格式不正确（5–20 位数字，可含 + - 空格和括号）",
    "Must be 6 digits.": "应为 6 位数字",
    "Not a valid date or datetime.": "日期或时间无效",
    "Required for repair, install, maintenance and complaint.": "维修、安装、保养和投诉须选择产品线",
    "Only for a complaint.": "仅投诉工单选择投诉类别",
    "Only with resolve, close, close_case.": "仅在解决、关闭或结案时填写服务方式",
    "must not be after the date of the request": "购买日期不能晚于受理日期",
    "the ticket changed since you read it": "工单已被他人更新，请刷新后再操作",
    "unknown outlet": "没有这个网点",
    # intake: complaint handling (complaints.py)
    "required for decide_responsibility": "请选择责任归属",
    "required for rule_grey_zone": "总部裁定须选择责任归属并写明依据",
    "required for hand_over": "移交首问负责人须填写新负责人和移交原因",
    "required for record_countermeasure": "请填写防止再发生对策和复查日期",
    "own or other_department": "裁定须为本单位责任或其他部门责任",
    "A user name, no spaces.": "请填写用户名（不含空格）",
    "Must not be blank.": "不能为空白",
    "Only with hand_over.": "仅在移交首问负责人时填写",
    "Only with record_countermeasure.": "仅在记录防止再发生对策时填写",
    "the responsibility is a grey zone (灰色地带): waiting for HQ's ruling (rule_grey_zone)": (
        "责任属灰色地带，须待总部裁定后才能继续处理"
    ),
    "grey zone: HQ rules it (rule_grey_zone)": "灰色地带须由总部裁定",
    "HQ ruled the responsibility; only HQ changes it": "责任已由总部裁定，只有总部可以更改",
    "only a grey-zone case is ruled by HQ": "只有灰色地带的责任由总部裁定",
    "no escalation to acknowledge": "没有待确认的升级通知",
    "required for escalate_major": "上报重大问题须选择问题类别并写明情况",
    "already escalated as a major issue": "已作为重大问题上报",
    "Only with escalate_major.": "仅在上报重大问题时填写",
    "the case is over": "投诉已结案",
    # intake: HQ routing a ticket to a center (routing.py)
    "required for route": "请选择服务中心",
    "a ticket can be re-routed only while registered, with no outlet and no case step taken": (
        "只有尚未受理、未指派网点的工单才能改派"
    ),
    "the corrected address names no province": "更正后的地址仍看不出省份",
    "not a complaint": "此工单不是投诉",
    "Required when the customer was reached (1-5).": "接通时请选择满意度（1–5）",
    # dispatch: why a visit could not be planned (planning.py), a pin refused
    "no location for the address": "地址无法定位",
    "no technician in the horizon": "近期没有可用的技师",
    "no technician-day free within the horizon": "近期技师排班已满",
    "out of reach: no eligible technician can get there and back within a shift": "路程太远：无技师能在一班内往返",
    "pinned to another technician": "已锁定给其他技师",
    "assigned by the center to another outlet": "中心已指派给其他网点",
    "no technician of it in the horizon": "该网点近期没有可用的技师",
    "no technician-day free within its window": "预约时段内没有空闲的技师",
    "frozen": "行程已在途，不能改派",
    "unknown technician": "没有这个技师",
    "no such technician in this tenant": "本中心没有这个技师",
    "visit is not open": "此上门已结束，不能再派",
    # accounts and signing in (services/gateway/accounts.py)
    "wrong username or password": "用户名或密码错误",
    "required": "必填",
    "only with outcome refund": "仅在改为退款时填写",
    "a positive amount in yuan with at most 2 decimals": "请填写大于 0 的金额（元，最多两位小数）",
    # settlement: a tariff version (HQ's tariffs page)
    "must be a number": "请输入数字",
    "must not be negative": "不能为负数",
    "must be a positive integer": "请输入正整数",
    "must be a date YYYY-MM-DD": "日期无效（格式：年-月-日）",
    "before valid_from": "不能早于生效日期",
    "exists": "已存在",
    "no tariff in force": "该日没有生效的总部标准",
    # settlement: the audit rules' findings on a claim
    "warranty decided at registration; no purchase date to re-check on the visit date": (
        "登记时已判定保修；无购买日期，上门日不再复核"
    ),
    "self-paid job: the customer pays, no warranty needed": "自费服务：由客户付费，无需保修",
    "purchase date unknown: the warranty cannot be verified": "购买日期不明，无法核实保修",
    "the customer's confirmation (signed work order) is missing": "缺少客户确认（签字的工作单）",
    "claimed within the tariff": "申报未超收费标准",
    # certification: a review step's reason
    "say why (required for a rejection, suspension, reinstatement)": "请填写理由（不通过、暂停、恢复时必填）",
    "this account is disabled": "此帐号已停用，请联系管理员",
    "must not be blank or contain NUL": "不能为空白",
    "must not be the username": "不能与用户名相同",
    "already taken": "用户名已被占用",
    "no such user": "没有这个用户",
    "the current password is wrong": "当前密码不正确",
    "the two new passwords differ": "两次输入的新密码不一致",
    # on site (dispatch: check-in, check-out, the customer's signature)
    "visit is scheduled": "尚未签到，请先到达签到",
    "visit is started": "已签到，不能重复签到",
    "visit is completed": "此任务已完成",
    "visit is cancelled": "此任务已取消",
    "visit is unplanned": "此任务尚未排程",
    "visit is unassignable": "此任务无法派工",
    "must not be in the future": "时间不能晚于现在",
    "must be after the check-in": "签退时间不能早于签到时间",
    "the visit is planned for another technician": "此任务已派给其他技师",
    "Must be a PNG image as a data URL (data:image/png;base64,...).": "签名图片格式无效，请清除后重新签名",
    "The signature image is not valid base64.": "签名图片格式无效，请清除后重新签名",
    "The signature is not a PNG image.": "签名图片格式无效，请清除后重新签名",
    # a return visit the outlet asks for (dispatch's return_visits)
    "not checked out yet": "尚未签退：签退后才能申请返修",
    "must not be blank": "不能为空白",
    "must not be in the past": "不能早于今天",
    "not a working day": "这天不是工作日，请选择工作日",
    # parts: sending an old part back
    "already shipped": "此旧件已登记寄回",
    "the return is received_warehouse": "备件库已签收此旧件",
    "the return is received_factory": "工厂已签收此旧件",
    "the return is inspected": "此旧件已检验完毕",
    # settlement's statement lines
    "claimed per tariff lines": "按收费标准申报",
    # settlement's audit rules: why a rule passed
    "no serial number on the ticket": "工单无产品序列号，不判重复维修",
    "no returnable part overdue": "无逾期未返的旧件",
    "no SLA breach charged to the outlet": "无归责于网点的时效违约",
    "no open negative callback": "无未结的不满意回访",
    "the customer signed the work order": "客户已在工作单上签字确认",
    # the outlet's request to end its agreement (certification)
    "required for outlet_request": "请填写书面申请函编号",
    "outlets file outlet_request only": "网点只能以“网点申请解约”为由提交",
    # errors by kind
    "not found": "未找到",
    "access denied": "无权访问",
}

EXACT.update(
    {  # notify: a user's notice preferences (通知设置)
        "an e-mail address is needed: a notice goes by e-mail": "已选择用邮件接收通知，请填写邮箱",
        "a phone number is needed: a notice goes by SMS": "已选择用短信接收通知，请填写手机号码",
        "not HH:MM-HH:MM (e.g. 22:00-08:00), or off": "格式为 时:分-时:分（如 22:00-08:00），不设请填 off",
        "not an e-mail address": "邮箱地址格式不正确",
    }
)
PATTERNS = [
    (
        re.compile(r"^the phone number is masked \(.*\): no SMS to a masked number$"),
        "手机号码不完整（含*），无法接收短信",
    ),
    (re.compile(r"^not a phone number: .*$"), "手机号码格式不正确"),
    (re.compile(r"^(\S+) owns the case already$"), "{0} 已是首问负责人"),
    (re.compile(r"^waiting for (\S+)'s acknowledgement$"), "须由 {0} 确认"),
    (re.compile(r"^too many failed sign-ins; try again in (\d+) minutes$"), "登录失败次数过多，请 {0} 分钟后再试"),
    (re.compile(r"^at least (\d+) characters$"), "至少 {0} 个字符"),
    (re.compile(r"^at most (\d+) characters$"), "最多 {0} 个字符"),
    (re.compile(r"^(\d+) to (\d+) characters$"), "{0} 到 {1} 个字符"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "长度应在 {0} 到 {1} 之间"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "至少 {0} 个字符"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "最多 {0} 个字符"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), "应在 {0} 到 {1} 之间"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "不能小于 {0}"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), "不能大于 {0}"),
    (re.compile(r"^Must be greater than (\S+)\.$"), "应大于 {0}"),
    (re.compile(r"^Must be one of: (.+)\.$"), "应为以下之一：{0}"),
    # intake/parts: cancelling an exchange's replacement (returns.check_cancel_replacement, machines.cancellable)
    (
        re.compile(r"^the case is (\S+); only a replacement awaiting stock \(awaiting_stock\) is cancelled$"),
        "该换机案当前为 {0}，只有缺货待发的换机可以取消",
    ),
    (re.compile(r"^the replacement is issued; only one awaiting stock is cancelled$"), "新机已发出，不能取消换机"),
    (re.compile(r"^(\S+) is served by center (\S+)$"), "{0}不在本中心的服务区域内（属于 {1}），请核对地址"),
    (re.compile(r"^no outlet None in (\S+)$"), "请选择网点"),
    (re.compile(r"^no outlet '(\S+)' in (\S+)$"), "本中心没有网点 {0}"),
    (re.compile(r"^not allowed from (?:status|case state) (\S+)$"), "当前状态下不能执行此操作"),
    (re.compile(r"^not allowed for role (\S+)$"), "您的角色不能执行此操作"),
    (re.compile(r"^current version is (\d+)$"), "当前版本为 {0}"),
    (re.compile(r"^outlet (\S+) on probation is at its job limit$"), "网点 {0} 在试用期，接单已达上限"),
    (re.compile(r"^outlet (\S+) is (\S+)$"), "网点 {0} 当前不接单（{1}）"),
    # dispatch: a dispatcher's constraint the plan cannot keep (domain.unmet_constraint, the part before ": ")
    (re.compile(r"^outlet (\S+) assigned by the center cannot take it$"), "中心指派的网点 {0} 无法接此单"),
    (re.compile(r"^pinned technician (\S+) cannot take it$"), "锁定的技师 {0} 无法接此单"),
    (re.compile(r"^confirmed appointment at (\S+ \S+) cannot be kept$"), "已与客户确认的预约（{0}）无法保持"),
    # intake: HQ routing a ticket to a center (routing.py)
    (
        re.compile(r"^center \S+ does not serve (\S+): choose a candidate or correct the address$"),
        "所选中心不负责{0}：请选择候选中心，或更正地址",
    ),
    (
        re.compile(r"^center \S+: the customer's province is not known: correct the address$"),
        "客户所在省份不明：请更正地址",
    ),
    (
        re.compile(r"^the corrected address is in (\S+), outside the center's territory$"),
        "更正后的地址在{0}，不属于所选中心的服务区域",
    ),
    (re.compile(r"^already with (\S+)$"), "工单已在该中心"),
    (re.compile(r"^no center '(\S+)'$"), "没有这个服务中心"),
    (re.compile(r"^(\S+) is in force (\S+)\.\.(\S+)$"), "与版本 {0}（{1} 至 {2}）的有效期重叠"),
    (
        re.compile(r"^no repair of serial (\S+) for the same fault within (\d+) days$"),
        "序列号 {0} 在 {1} 天内无同一故障的维修",
    ),
    (re.compile(r"^visit (\S+) before the purchase date (\S+)$"), "上门日 {0} 早于购买日期 {1}"),
    (
        re.compile(
            r"^(\d+)-year warranty from (\S+) expired on (\S+); visit on (\S+): bill the customer as self-paid$"
        ),
        "{0} 年保修，{1} 起，已于 {2} 到期；上门 {3}：应按自费向客户收费",
    ),
    (re.compile(r"^visit (\S+) is already claimed by (\S+)$"), "上门 {0} 已由 {1} 申报"),
    (re.compile(r"^negative callback open: (.+); held until QA closes it$"), "有未结的不满意回访：{0}；暂缓至回访结案"),
    (re.compile(r"^SLA breached by the outlet: (.+)$"), "网点造成超时：{0}"),
    (re.compile(r"^claimed above the tariff, capped: (.+)$"), "申报超出收费标准，按标准核定：{0}"),
    (re.compile(r"^no skill for (.+)$"), "没有会维修{0}的技师"),
    (re.compile(r"^no valid certificate for (.+)$"), "没有持{0}有效资格证的技师"),
    (re.compile(r"^Not a valid (\w+)\.$"), "格式无效"),
    (re.compile(r"^The signature image must be at most (\d+) kB\.$"), "签名图片不能超过 {0} KB，请清除后重签"),
    (re.compile(r"^claim: visit (\S+)$"), "{0} 上门服务费"),
    (re.compile(r"^return visit \S+ is still open$"), "已有未完成的返修上门：完成或取消后才能再次申请"),
    (re.compile(r"^visit of the ticket \S+ is still open$"), "本工单已有未完成的上门：完成或取消后才能再次申请"),
    (re.compile(r"^at most (\d+) days ahead$"), "最多只能选 {0} 天以内的日期"),
    (re.compile(r"^SLA onsite of ticket (\S+) breached \(due (.+)\)$"), "工单 {0} 上门超时（时限 {1}）"),
    (re.compile(r"^SLA accept of ticket (\S+) breached \(due (.+)\)$"), "工单 {0} 受理超时（时限 {1}）"),
    (re.compile(r"^SLA phone_reply of ticket (\S+) breached \(due (.+)\)$"), "工单 {0} 电话回复超时（时限 {1}）"),
    (re.compile(r"^SLA forward of ticket (\S+) breached \(due (.+)\)$"), "工单 {0} 转派超时（时限 {1}）"),
    (
        re.compile(r"^SLA complaint_plan of ticket (\S+) breached \(due (.+)\)$"),
        "工单 {0} 投诉处理方案超时（时限 {1}）",
    ),
    (re.compile(r"^SLA complaint_close of ticket (\S+) breached \(due (.+)\)$"), "工单 {0} 投诉结案超时（时限 {1}）"),
    (re.compile(r"^part (\S+) \(RMA (\S+)\) not returned by (\S+)$"), "旧件 {0}（返厂单 {1}）未在 {2} 前返回"),
    (re.compile(r"^part (\S+) \(RMA (\S+)\) returned late on (\S+)$"), "旧件 {0}（返厂单 {1}）于 {2} 逾期返回"),
    (
        re.compile(r"^(\d+)-year warranty from (\S+) valid until (\S+); visit on (\S+)$"),
        "{0} 年保修，{1} 起至 {2}；上门 {3}",
    ),
    (re.compile(r"^first claim for visit \S+$"), "此次上门的首次申报"),
    (re.compile(r"^claimed at the tariff (\S+)$"), "按收费标准 {0} 元申报"),
    (re.compile(r"^claim released from hold: visit (\S+)$"), "{0} 上门服务费（解除暂缓）"),
    (
        re.compile(r"^The signature image must be (\d+) to (\d+) pixels a side\.$"),
        "签名区域大小异常（每边应为 {0}–{1} 像素）",
    ),
    # parts: a receipt booked by hand (the scanner's reasons), a reconciliation's findings
    (re.compile(r"^unknown part (\S+)$"), "没有这个配件：{0}"),
    (re.compile(r"^unknown RMA (\S+)$"), "没有这个返厂单，或不属于本库：{0}"),
    (re.compile(r"^unknown location (\S+)$"), "没有这个库位：{0}"),
    (re.compile(r"^RMA (\S+): RMA already (\S+)$"), "返厂单 {0} 已签收过，不能重复签收"),
    (re.compile(r"^RMA (\S+) is for (\S+), scanned part is (\S+)$"), "返厂单 {0} 对应配件 {1}，登记的是 {2}"),
    (re.compile(r"^new stock is received at a warehouse, (\S+) is a (\S+)$"), "新件只能入库到备件库"),
    (re.compile(r"^(\d+) serials for (\d+) units$"), "填了 {0} 个序列号，数量为 {1}：须每件一个"),
    (re.compile(r"^old part (\S+) from (\S+) not returned \(due (\S+)\)$"), "旧件 {0} 未从 {1} 返回（到期 {2}）"),
    (re.compile(r"^RMA for (\d+), (\d+) received at (\S+)$"), "返厂单登记 {0} 件，{2} 实收 {1} 件"),
    (re.compile(r"^removed (\S+) booked, (\S+) received at (\S+)$"), "登记拆下旧件 {0}，{2} 收到 {1}"),
    (re.compile(r"^(\d+) returned by (\S+) but (\d+) ever issued to it$"), "{1} 返回 {0} 件，累计只发放 {2} 件"),
    (re.compile(r"^(\d+) used on visit (\S+), only (\d+) in (\S+)'s stock$"), "上门 {1} 用 {0} 件，{3} 仅 {2} 件"),
    (re.compile(r"^new part (\S+) fitted on visit (\S+) was never issued to (\S+)$"), "新件 {0}（{1}）未发给 {2}"),
]


def zh(message: object) -> str:
    """`message` in Chinese where the portal knows it, else as it is."""
    text = str(message)
    if text in EXACT:
        return EXACT[text]
    for pattern, template in PATTERNS:
        match = pattern.match(text)
        if match:
            return template.format(*match.groups())
    return text
