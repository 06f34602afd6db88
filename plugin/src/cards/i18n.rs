//! The words on the cards, in the two locales Mica supports.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    ZhCn,
    EnUs,
}

impl Locale {
    /// Mica's locale tag; anything English reads English, everything else Chinese (Mica's default).
    pub fn from_tag(tag: &str) -> Locale {
        if tag.trim().to_ascii_lowercase().starts_with("en") {
            Locale::EnUs
        } else {
            Locale::ZhCn
        }
    }
}

/// Every label a card uses.
pub struct Words {
    pub pr_submitted_title: &'static str,
    pub approval_title: &'static str,
    pub approved: &'static str,
    pub rejected: &'static str,
    pub returned: &'static str,
    pub po_created_title: &'static str,
    pub payment_pending_title: &'static str,
    pub contract_expiring_title: &'static str,
    pub requisition: &'static str,
    pub title: &'static str,
    pub applicant: &'static str,
    pub department: &'static str,
    pub amount: &'static str,
    pub lines: &'static str,
    pub decider: &'static str,
    pub result: &'static str,
    pub comment: &'static str,
    pub purchase_order: &'static str,
    pub supplier: &'static str,
    pub payment: &'static str,
    pub due_date: &'static str,
    pub description: &'static str,
    pub contract: &'static str,
    pub expiry_date: &'static str,
    pub days_remaining: &'static str,
    pub total_amount: &'static str,
    pub used_amount: &'static str,
    pub view_requisition: &'static str,
    pub view_order: &'static str,
    pub view_payment: &'static str,
    pub view_contract: &'static str,
    pub footer: &'static str,
    /// "{n} days" — `{n}` is replaced.
    pub days: &'static str,
    pub expired: &'static str,
    /// Notices: the tag of each of Mica's categories (any other shows its own name).
    pub approval_reminder: &'static str,
    pub sla_escalation: &'static str,
    pub price_anomaly: &'static str,
    pub system_notice: &'static str,
    pub open_in_mica: &'static str,
    /// "and {n} more" — `{n}` is replaced.
    pub and_more: &'static str,
    /// "Daily digest for {date}" — `{date}` is replaced.
    pub digest_title: &'static str,
    pub digest_empty: &'static str,
    pub open_dashboard: &'static str,
    /// Redrawn cards: when it was decided, and where a payment's approval stands.
    pub decided_at: &'static str,
    pub approval_status: &'static str,
    pub changed_at: &'static str,
    pub status_pending: &'static str,
    pub status_canceled: &'static str,
    pub status_deleted: &'static str,
    pub status_reverted: &'static str,
    pub status_overtime_close: &'static str,
    pub status_overtime_recover: &'static str,
}

const ZH: Words = Words {
    pr_submitted_title: "采购申请待审批",
    approval_title: "审批结果",
    approved: "已通过",
    rejected: "已驳回",
    returned: "已退回",
    po_created_title: "采购订单已创建",
    payment_pending_title: "付款待审核",
    contract_expiring_title: "合同即将到期",
    requisition: "采购申请",
    title: "标题",
    applicant: "申请人",
    department: "部门",
    amount: "金额",
    lines: "明细行数",
    decider: "审批人",
    result: "结果",
    comment: "意见",
    purchase_order: "采购订单",
    supplier: "供应商",
    payment: "付款单",
    due_date: "到期日",
    description: "说明",
    contract: "合同",
    expiry_date: "到期日期",
    days_remaining: "剩余天数",
    total_amount: "合同总额",
    used_amount: "已使用",
    view_requisition: "查看采购申请",
    view_order: "查看采购订单",
    view_payment: "查看付款单",
    view_contract: "查看合同",
    footer: if cfg!(feature = "fixture-v2") {
        "来自 Mica 采购系统 · v2"
    } else {
        "来自 Mica 采购系统"
    },
    days: "{n} 天",
    expired: "已到期",
    approval_reminder: "审批提醒",
    sla_escalation: "超时升级",
    price_anomaly: "价格异常",
    system_notice: "系统通知",
    open_in_mica: "在 Mica 中查看",
    and_more: "还有 {n} 项",
    digest_title: "每日摘要（{date}）",
    digest_empty: "今天没有需要关注的事项。",
    open_dashboard: "打开 Mica 工作台",
    decided_at: "审批时间",
    approval_status: "飞书审批",
    changed_at: "更新时间",
    status_pending: "审批中",
    status_canceled: "已撤回",
    status_deleted: "已删除",
    status_reverted: "已撤销",
    status_overtime_close: "超时关闭",
    status_overtime_recover: "超时恢复，审批中",
};

const EN: Words = Words {
    pr_submitted_title: "Purchase requisition submitted",
    approval_title: "Approval decision",
    approved: "Approved",
    rejected: "Rejected",
    returned: "Returned",
    po_created_title: "Purchase order created",
    payment_pending_title: "Payment pending review",
    contract_expiring_title: "Contract expiring soon",
    requisition: "Requisition",
    title: "Title",
    applicant: "Applicant",
    department: "Department",
    amount: "Amount",
    lines: "Line items",
    decider: "Decided by",
    result: "Result",
    comment: "Comment",
    purchase_order: "Purchase order",
    supplier: "Supplier",
    payment: "Payment",
    due_date: "Due date",
    description: "Description",
    contract: "Contract",
    expiry_date: "Expiry date",
    days_remaining: "Days remaining",
    total_amount: "Contract total",
    used_amount: "Used",
    view_requisition: "View requisition",
    view_order: "View purchase order",
    view_payment: "View payment",
    view_contract: "View contract",
    footer: if cfg!(feature = "fixture-v2") {
        "Sent by Mica Procurement · v2"
    } else {
        "Sent by Mica Procurement"
    },
    days: "{n} days",
    expired: "Expired",
    approval_reminder: "Approval reminder",
    sla_escalation: "SLA escalation",
    price_anomaly: "Price anomaly",
    system_notice: "System notice",
    open_in_mica: "Open in Mica",
    and_more: "and {n} more",
    digest_title: "Daily digest for {date}",
    digest_empty: "Nothing needs your attention today.",
    open_dashboard: "Open the Mica dashboard",
    decided_at: "Decided at",
    approval_status: "Feishu approval",
    changed_at: "Updated at",
    status_pending: "Waiting for approval",
    status_canceled: "Withdrawn",
    status_deleted: "Deleted",
    status_reverted: "Revoked",
    status_overtime_close: "Closed: overdue",
    status_overtime_recover: "Reopened after being overdue",
};

pub fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::ZhCn => &ZH,
        Locale::EnUs => &EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_tags() {
        assert_eq!(Locale::from_tag("en-US"), Locale::EnUs);
        assert_eq!(Locale::from_tag("en"), Locale::EnUs);
        assert_eq!(Locale::from_tag("zh-CN"), Locale::ZhCn);
        assert_eq!(Locale::from_tag(""), Locale::ZhCn);
    }
}
