//! Which id to send a message to: union_id, then open_id, then user_id, then email (email needs
//! no contact permission, the ids are exact).

use crate::model::Recipient;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveId {
    /// Feishu's `receive_id_type` query value.
    pub id_type: &'static str,
    pub id: String,
}

/// The best id Mica knows for this person, or `None` when it knows none at all.
pub fn receive_id(r: &Recipient) -> Option<ReceiveId> {
    fn present(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let pick = |id_type, v: &str| ReceiveId {
        id_type,
        id: v.to_string(),
    };
    if let Some(v) = present(&r.feishu_union_id) {
        return Some(pick("union_id", v));
    }
    if let Some(v) = present(&r.feishu_open_id) {
        return Some(pick("open_id", v));
    }
    if let Some(v) = present(&r.feishu_user_id) {
        return Some(pick("user_id", v));
    }
    let email = r.email.trim();
    (!email.is_empty()).then(|| pick("email", email))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::recipient;

    #[test]
    fn preference_order() {
        let mut r = recipient("zh-CN");
        assert_eq!(
            receive_id(&r).unwrap(),
            ReceiveId {
                id_type: "email",
                id: "li.lei@example.com".into()
            }
        );
        r.feishu_user_id = Some("u1".into());
        assert_eq!(receive_id(&r).unwrap().id_type, "user_id");
        r.feishu_open_id = Some("ou_1".into());
        assert_eq!(receive_id(&r).unwrap().id_type, "open_id");
        r.feishu_union_id = Some("on_1".into());
        assert_eq!(
            receive_id(&r).unwrap(),
            ReceiveId {
                id_type: "union_id",
                id: "on_1".into()
            }
        );
    }

    #[test]
    fn blank_ids_do_not_count() {
        let mut r = recipient("zh-CN");
        r.feishu_union_id = Some("  ".into());
        assert_eq!(receive_id(&r).unwrap().id_type, "email");
        r.email = " ".into();
        assert_eq!(receive_id(&r), None);
    }
}
