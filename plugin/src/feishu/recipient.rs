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
    receive_ids(r).into_iter().next()
}

/// Every id Mica knows for this person, best first: the next is tried when Feishu says one is
/// not usable by this app (`id_not_usable`).
pub fn receive_ids(r: &Recipient) -> Vec<ReceiveId> {
    fn present(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    [
        ("union_id", present(&r.feishu_union_id)),
        ("open_id", present(&r.feishu_open_id)),
        ("user_id", present(&r.feishu_user_id)),
        ("email", Some(r.email.trim()).filter(|e| !e.is_empty())),
    ]
    .into_iter()
    .filter_map(|(id_type, v)| {
        v.map(|id| ReceiveId {
            id_type,
            id: id.to_string(),
        })
    })
    .collect()
}

/// Feishu's answer says this id cannot reach anyone for this app (an open_id of another app or
/// one that does not exist, an invalid id), so another id of the same person may: as opposed
/// to a person the app cannot reach at all (outside its availability, resigned, blocked it).
pub fn id_not_usable(id_type: &str, code: i64) -> bool {
    match code {
        99992361 | 99992351 | 230034 => true,
        // "field validation failed": for an email, the address is no Feishu account.
        99992402 => id_type != "email",
        _ => false,
    }
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

    #[test]
    fn every_known_id_is_listed_best_first() {
        let mut r = recipient("zh-CN");
        r.feishu_open_id = Some("ou_1".into());
        r.feishu_union_id = Some(" ".into());
        let kinds: Vec<&str> = receive_ids(&r).iter().map(|t| t.id_type).collect();
        assert_eq!(kinds, vec!["open_id", "email"]);
        assert!(id_not_usable("open_id", 99992361) && id_not_usable("union_id", 99992402));
        assert!(!id_not_usable("email", 99992402) && !id_not_usable("open_id", 230013));
    }
}
