//! Outbound HTTP over raw `wasi:http/outgoing-handler`. The host applies its allow-list and owns the
//! connection pool; this side only builds the request and reads the answer.

use crate::ports::{Http, HttpRequest, HttpResponse, Method, TransportError};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

const CONNECT_TIMEOUT_NS: u64 = 5_000_000_000;
const FIRST_BYTE_TIMEOUT_NS: u64 = 15_000_000_000;
const BETWEEN_BYTES_TIMEOUT_NS: u64 = 15_000_000_000;
/// Answers larger than this are not Feishu's: stop reading.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// wasi:io output streams accept at most 4096 bytes per blocking write.
const WRITE_CHUNK: usize = 4096;

pub struct WasiHttp;

struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Url<'_>, TransportError> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(TransportError::Denied(format!(
            "only http and https URLs can be called, not {url}"
        )));
    };
    let (authority, path_and_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok(Url {
        https,
        authority,
        path_and_query,
    })
}

fn error_code(e: &ErrorCode) -> TransportError {
    match e {
        ErrorCode::HttpRequestDenied => {
            TransportError::Denied("the destination is not on the host's allow-list".into())
        }
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => TransportError::Timeout(format!("{e:?}")),
        // The host's own words (e.g. that its HTTPS proxy refused the tunnel).
        ErrorCode::InternalError(Some(said)) => TransportError::Connection(said.clone()),
        other => TransportError::Connection(format!("{other:?}")),
    }
}

fn wait(
    fut: &FutureIncomingResponse,
) -> Result<wasip2::http::types::IncomingResponse, TransportError> {
    fut.subscribe().block();
    match fut.get() {
        Some(Ok(Ok(resp))) => Ok(resp),
        Some(Ok(Err(code))) => Err(error_code(&code)),
        Some(Err(())) | None => Err(TransportError::Connection("response already taken".into())),
    }
}

impl Http for WasiHttp {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = split_url(&request.url)?;
        let entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        let headers = Fields::from_list(&entries)
            .map_err(|e| TransportError::Connection(format!("bad header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Patch => WasiMethod::Patch,
        };
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let invalid =
            |what: &str| TransportError::Connection(format!("invalid {what} in {}", request.url));
        outgoing
            .set_method(&method)
            .map_err(|_| invalid("method"))?;
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|_| invalid("scheme"))?;
        outgoing
            .set_authority(Some(url.authority))
            .map_err(|_| invalid("host"))?;
        outgoing
            .set_path_with_query(Some(url.path_and_query))
            .map_err(|_| invalid("path"))?;
        let body = outgoing.body().map_err(|_| invalid("body"))?;

        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT_NS));
        let _ = options.set_first_byte_timeout(Some(FIRST_BYTE_TIMEOUT_NS));
        let _ = options.set_between_bytes_timeout(Some(BETWEEN_BYTES_TIMEOUT_NS));

        let future =
            outgoing_handler::handle(outgoing, Some(options)).map_err(|e| error_code(&e))?;

        // Write the body; if that fails, the response future usually says why (e.g. denied).
        let written = (|| {
            let stream = body.write().map_err(|_| ())?;
            for chunk in request.body.chunks(WRITE_CHUNK) {
                stream.blocking_write_and_flush(chunk).map_err(|_| ())?;
            }
            drop(stream);
            OutgoingBody::finish(body, None).map_err(|_| ())
        })();
        let response = wait(&future)?;
        if written.is_err() {
            return Err(TransportError::Connection(
                "the request body could not be sent".into(),
            ));
        }

        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|_| TransportError::Connection("response body unavailable".into()))?;
        let stream = incoming
            .stream()
            .map_err(|_| TransportError::Connection("response body unavailable".into()))?;
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(bytes) => {
                    body.extend_from_slice(&bytes);
                    if body.len() > MAX_RESPONSE_BYTES {
                        return Err(TransportError::Connection("response too large".into()));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(TransportError::Connection(format!(
                        "reading the response failed: {}",
                        e.to_debug_string()
                    )));
                }
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
