//! Counts TCP connections, so tests can show the host reuses them.

use super::state::SimState;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

pub struct CountingListener {
    inner: TcpListener,
    state: Arc<Mutex<SimState>>,
}

impl CountingListener {
    pub fn new(inner: TcpListener, state: Arc<Mutex<SimState>>) -> Self {
        CountingListener { inner, state }
    }
}

impl axum::serve::Listener for CountingListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    self.state.lock().unwrap().connections += 1;
                    return (io, addr);
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
