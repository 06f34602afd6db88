//! Feishu error codes the plugin reacts to (FEISHU_API.md §1.6, §2.7, §7).

/// The tenant token is missing, malformed or expired: evict it, fetch a new one, retry once.
pub const TOKEN_INVALID: &[i64] = &[99991661, 99991663, 99991671];
/// Rate limits: the generic one and the send/patch frequency limit.
pub const RATE_LIMITED: &[i64] = &[99991400, 230020];
/// Wrong App ID or App Secret.
pub const BAD_CREDENTIALS: &[i64] = &[10014, 10015, 99991543, 99991664, 99991665];
/// The app is disabled or not installed in the tenant.
pub const APP_UNUSABLE: &[i64] = &[99991662, 99991673];
/// A required API scope is not granted.
pub const SCOPE_MISSING: &[i64] = &[99991672, 99991676, 230027];
pub const BOT_NOT_ENABLED: i64 = 230006;
/// A request parameter Feishu could not accept (on the token endpoint: an unknown App ID).
pub const INVALID_PARAM: i64 = 10003;
/// Feishu is busy with the same message, or failed internally: worth retrying.
pub const RETRYABLE: &[i64] = &[230049, 1395001];

/// Recipient problems an administrator must fix in Feishu, with what to tell them.
pub fn unreachable_recipient(code: i64) -> Option<&'static str> {
    Some(match code {
        230013 => {
            "the recipient is outside the app's availability scope (or has left the company): add them under Version Management → Availability"
        }
        230029 => "the recipient has resigned",
        230053 => "the recipient has stopped the bot from sending messages",
        230034 => "the receive id is not valid for this app",
        230035 => "sending is denied (muted chat, blocked bot or tenant policy)",
        230038 => "cross-tenant messages are not allowed",
        99992351 => "the recipient's open_id does not exist",
        99992361 => "the recipient's open_id belongs to another app",
        99992402 => {
            "Feishu rejected the recipient id (for email: the address is not a Feishu account, or the person is outside the app's availability scope)"
        }
        _ => return None,
    })
}

/// A sent card Feishu will no longer change, with what to tell an administrator.
pub fn card_not_updatable(code: i64) -> Option<&'static str> {
    Some(match code {
        230011 => "the message was recalled",
        230031 => "the message was sent more than 14 days ago",
        _ => return None,
    })
}
