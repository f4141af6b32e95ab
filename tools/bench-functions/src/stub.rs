//! A local Lambda Runtime API (the part a function's runtime client speaks): the bench
//! hears of each `GET /runtime/invocation/next` as it arrives (init ends at the first) and
//! chooses the event it answers with; the function's response or error comes back as an
//! [`Arrival::Outcome`].

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// What the function just did.
#[derive(Debug)]
pub enum Arrival {
    /// It asks for its next event; answer with the event's JSON (drop it to leave it waiting).
    Next(oneshot::Sender<Vec<u8>>),
    /// It answered an event: its response, or its error (`error`).
    Outcome { error: bool, body: String },
    /// It reported an init error.
    InitError(String),
}

#[derive(Debug)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    pub arrivals: mpsc::UnboundedReceiver<Arrival>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, arrivals) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, tx).await;
                });
            }
        });
        Ok(RuntimeApi { addr, arrivals })
    }

    /// Forgets whatever an earlier (killed) process left.
    pub fn drain(&mut self) {
        while self.arrivals.try_recv().is_ok() {}
    }
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

async fn serve(mut stream: TcpStream, tx: mpsc::UnboundedSender<Arrival>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut request_id = 0u64;
    loop {
        let (method, path, head_len, body_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            if let httparse::Status::Complete(len) =
                req.parse(&buf).map_err(|e| invalid(e.to_string()))?
            {
                let body_len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0usize);
                break (
                    req.method.unwrap_or("").to_owned(),
                    req.path.unwrap_or("").to_owned(),
                    len,
                    body_len,
                );
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        while buf.len() < head_len + body_len {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_len..head_len + body_len]).into_owned();
        buf.drain(..head_len + body_len);

        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let (reply, event) = oneshot::channel();
            if tx.send(Arrival::Next(reply)).is_err() {
                return Ok(());
            }
            let Ok(event) = event.await else {
                return Ok(());
            };
            request_id += 1;
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 900_000)
                .unwrap_or(0);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: bench-{request_id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            );
            // One write: a head and a body in two segments meet Nagle and a delayed ACK (40 ms).
            let mut reply = head.into_bytes();
            reply.extend_from_slice(&event);
            stream.write_all(&reply).await?;
            continue;
        }
        let arrival = if path.contains("/runtime/init/error") {
            Some(Arrival::InitError(body))
        } else if path.ends_with("/response") {
            Some(Arrival::Outcome { error: false, body })
        } else if path.ends_with("/error") {
            Some(Arrival::Outcome { error: true, body })
        } else {
            None
        };
        let reply: &[u8] = match arrival {
            Some(arrival) => {
                let _ = tx.send(arrival);
                b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
            }
            None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        };
        stream.write_all(reply).await?;
    }
}
