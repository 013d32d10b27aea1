//! A minimal HTTP/1.1 server on loopback for provider tests: it records every request and
//! answers from a script (a JSON reply, a dropped connection, or silence until the client
//! times out). Hand-written on tokio so that faults are exact.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// Status, extra headers, JSON body.
    Json(u16, Vec<(String, String)>, Value),
    /// Close the connection without answering.
    Drop,
    /// Say nothing for this long, then close.
    Stall(Duration),
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Self {
        Reply::Json(200, Vec::new(), body)
    }

    pub(crate) fn status(status: u16, body: Value) -> Self {
        Reply::Json(status, Vec::new(), body)
    }

    pub(crate) fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Reply::Json(status, mut headers, body) => {
                headers.push((name.to_string(), value.to_string()));
                Reply::Json(status, headers, body)
            }
            other => other,
        }
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The server: replies are taken from the script in order; when it is exhausted, `fallback`.
pub(crate) struct MockServer {
    pub(crate) addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockServer {
    pub(crate) async fn start(replies: Vec<Reply>, fallback: Reply) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
        let (req, q) = (requests.clone(), queue);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (req, q, fallback) = (req.clone(), q.clone(), fallback.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, req, q, fallback).await;
                });
            }
        });
        MockServer { addr, requests }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    queue: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Reply,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read one request: headers, then Content-Length bytes of body.
        let header_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let mut lines = head.split("\r\n");
        let path = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        while buf.len() < header_end + length {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = serde_json::from_slice(&buf[header_end..header_end + length]).unwrap_or(Value::Null);
        buf.drain(..header_end + length);
        requests.lock().unwrap().push(Recorded { path, headers, body });
        let reply = queue.lock().unwrap().pop_front().unwrap_or_else(|| fallback.clone());
        match reply {
            Reply::Drop => return Ok(()),
            Reply::Stall(d) => {
                tokio::time::sleep(d).await;
                return Ok(());
            }
            Reply::Json(status, extra, body) => {
                let body = body.to_string();
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                stream.write_all(response.as_bytes()).await?;
            }
        }
    }
}
