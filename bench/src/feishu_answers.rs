//! What Feishu answers to the two calls a card costs (a tenant token, once; a message send), as
//! bytes, given to both the native core and the component so they parse the very same responses.

/// The JSON body Feishu answers for a request to `path`.
pub fn answer(path: &str) -> &'static [u8] {
    if path.ends_with("/auth/v3/tenant_access_token/internal") {
        br#"{"code":0,"msg":"ok","tenant_access_token":"t-g1044ghJRUIJJ5ELPPUFQTFQ3RSGNQNFYOSNLG5Q","expire":7200}"#
    } else if path.ends_with("/im/v1/messages") {
        br#"{"code":0,"msg":"success","data":{"message_id":"om_dc13264520392913993dd051dba21dcf","root_id":"","parent_id":"","msg_type":"interactive","create_time":"1764036862000","update_time":"1764036862000","deleted":false,"updated":false,"chat_id":"oc_5ad11d72b830411d72b836c20","sender":{"id":"cli_9f5343c580712544","id_type":"app_id","sender_type":"app","tenant_key":"2ca1d211f64f6438"},"body":{"content":"{}"}}}"#
    } else {
        br#"{"code":99991400,"msg":"unexpected request in the benchmark"}"#
    }
}
