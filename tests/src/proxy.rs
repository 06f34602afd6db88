//! A corporate proxy stand-in: HTTP CONNECT tunnels on loopback. It records every CONNECT target,
//! maps host names to loopback ports (the host under test never resolves the target: the proxy
//! does, as a real one would), and can refuse tunnels the way proxies do (407, 403).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct ProxyState {
    /// `host:port` of every CONNECT received, refused ones included.
    pub connects: Vec<String>,
    /// Where a `host:port` really is.
    pub routes: HashMap<String, SocketAddr>,
    /// Answer every CONNECT with this status instead of tunnelling.
    pub refuse_with: Option<u16>,
}

pub struct ConnectProxy {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<ProxyState>>,
    server: tokio::task::JoinHandle<()>,
}

impl ConnectProxy {
    pub async fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, shared.clone()));
            }
        });
        ConnectProxy {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn route(&self, name: &str, to: SocketAddr) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(name.to_string(), to);
    }

    pub fn connects(&self) -> Vec<String> {
        self.state.lock().unwrap().connects.clone()
    }
}

async fn tunnel(mut client: TcpStream, state: Arc<Mutex<ProxyState>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 8192 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default()
        .to_string();
    let (refuse, route) = {
        let mut s = state.lock().unwrap();
        s.connects.push(target.clone());
        (s.refuse_with, s.routes.get(&target).copied())
    };
    if let Some(code) = refuse {
        let reason = if code == 407 {
            "Proxy Authentication Required"
        } else {
            "Forbidden"
        };
        let _ = client
            .write_all(format!("HTTP/1.1 {code} {reason}\r\ncontent-length: 0\r\n\r\n").as_bytes())
            .await;
        return;
    }
    let Some(to) = route else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(to).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}
