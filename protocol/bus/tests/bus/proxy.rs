//! A TCP proxy in front of the broker whose connections a test can cut, to simulate
//! the network or the broker going away mid-stream.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let registry = Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(link.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            links,
            accept,
        }
    }

    /// Cuts every connection currently going through the proxy.
    pub(crate) fn cut(&self) -> usize {
        let mut links = self.links.lock().unwrap();
        let n = links.iter().filter(|l| !l.is_finished()).count();
        for link in links.drain(..) {
            link.abort();
        }
        n
    }

    pub(crate) fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f?heartbeat=5", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
