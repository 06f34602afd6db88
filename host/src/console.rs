//! The admin console at `/admin`: static files compiled into the binary (no CDN, works offline).
//! The pages call the same token-protected API as Mica does; the files themselves hold nothing
//! secret, so they are served without the token and the sign-in happens in the page.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// (path under /admin/, content type, contents)
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    ("js/main.js", JS, include_str!("../console/js/main.js")),
    ("js/api.js", JS, include_str!("../console/js/api.js")),
    ("js/dom.js", JS, include_str!("../console/js/dom.js")),
    ("js/i18n.js", JS, include_str!("../console/js/i18n.js")),
    ("js/card.js", JS, include_str!("../console/js/card.js")),
    ("js/feishu.js", JS, include_str!("../console/js/feishu.js")),
    (
        "js/preview.js",
        JS,
        include_str!("../console/js/preview.js"),
    ),
    (
        "js/deliveries.js",
        JS,
        include_str!("../console/js/deliveries.js"),
    ),
    (
        "js/plugins.js",
        JS,
        include_str!("../console/js/plugins.js"),
    ),
    (
        "js/identities.js",
        JS,
        include_str!("../console/js/identities.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

/// Scripts and styles only from this host; no framing; the token never leaves in a Referer.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn serve(path: &str) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(p, _, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Always revalidate: after a host upgrade the browser must not mix old and new scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| async { serve("index.html") }))
        .route("/admin/", get(|| async { serve("index.html") }))
        .route(
            "/admin/{*path}",
            get(|Path(path): Path<String>| async move { serve(&path) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_pages_import_is_served() {
        for (name, _, body) in FILES {
            for line in body
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(start) = line.find("\"./") else {
                    continue;
                };
                let rest = &line[start + 3..];
                let module = &rest[..rest.find('"').unwrap()];
                let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let wanted = format!("{dir}/{module}");
                assert!(
                    FILES.iter().any(|(p, _, _)| *p == wanted),
                    "{name} imports {wanted}, which is not served"
                );
            }
        }
    }
}
