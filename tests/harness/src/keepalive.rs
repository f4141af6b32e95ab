//! A counting HTTP/1.1 proxy on loopback in front of moto, that keeps its clients'
//! connections open: moto's server (werkzeug) closes every connection after one reply, so
//! against moto alone a client that pools connections could not show that it does. This
//! proxy answers each request on the client's connection and keeps it alive, takes each one
//! to moto on a connection of its own, and counts what it saw ([`ProxyCounts`]): the
//! connections its clients opened, their requests, and their AssumeRole calls (STS's query
//! protocol: `Action=AssumeRole` in the form body).
//!
//! Requests must carry their body with a `Content-Length` (the SDK's do); a chunked request
//! is answered 501 and its connection closed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy's clients did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// TCP connections the clients opened to the proxy.
    pub connections: u64,
    /// HTTP requests on them.
    pub requests: u64,
    /// Of which STS AssumeRole.
    pub assume_role: u64,
}

impl std::ops::Sub for ProxyCounts {
    type Output = ProxyCounts;
    fn sub(self, before: ProxyCounts) -> ProxyCounts {
        ProxyCounts {
            connections: self.connections - before.connections,
            requests: self.requests - before.requests,
            assume_role: self.assume_role - before.assume_role,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    assume_role: AtomicU64,
}

/// The running proxy; it stops when dropped.
#[derive(Debug)]
pub struct KeepAliveProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl KeepAliveProxy {
    /// Listens on a free loopback port and forwards to `upstream` (moto).
    pub async fn start(upstream: SocketAddr) -> std::io::Result<KeepAliveProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let counters = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Err(e) = serve(client, upstream, &counters).await {
                        eprintln!("keep-alive proxy: a connection ended: {e}");
                    }
                });
            }
        });
        Ok(KeepAliveProxy {
            addr,
            counters,
            task,
        })
    }

    /// The endpoint to give the SDK (`http://127.0.0.1:port`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> ProxyCounts {
        ProxyCounts {
            connections: self.counters.connections.load(Ordering::SeqCst),
            requests: self.counters.requests.load(Ordering::SeqCst),
            assume_role: self.counters.assume_role.load(Ordering::SeqCst),
        }
    }
}

impl Drop for KeepAliveProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP message's head, parsed: its first line's parts and its headers.
struct Head {
    first_line: String,
    headers: Vec<(String, Vec<u8>)>,
    len: usize,
}

impl Head {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn content_length(&self) -> std::io::Result<Option<usize>> {
        self.header("content-length")
            .map(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| invalid("a Content-Length that is not a number"))
            })
            .transpose()
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| {
            String::from_utf8_lossy(v)
                .to_ascii_lowercase()
                .contains("chunked")
        })
    }

    /// The head again, without the hop-by-hop and framing headers, with `extra` added.
    fn rewritten(&self, extra: &[(&str, String)]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.first_line).into_bytes();
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "connection" | "keep-alive" | "transfer-encoding" | "content-length"
            ) {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in extra {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn parse_request(buf: &[u8]) -> std::io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request
        .parse(buf)
        .map_err(|e| invalid(&format!("a request head: {e}")))?
    {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(len) => Ok(Some(Head {
            first_line: format!(
                "{} {} HTTP/1.1",
                request.method.unwrap_or("GET"),
                request.path.unwrap_or("/")
            ),
            headers: collect(request.headers),
            len,
        })),
    }
}

fn parse_response(buf: &[u8]) -> std::io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response
        .parse(buf)
        .map_err(|e| invalid(&format!("a response head: {e}")))?
    {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(len) => Ok(Some(Head {
            first_line: format!(
                "HTTP/1.1 {} {}",
                response.code.unwrap_or(500),
                response.reason.unwrap_or("")
            ),
            headers: collect(response.headers),
            len,
        })),
    }
}

fn collect(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
}

/// Reads into `buf` until `parse` finds a whole head; `None` when the peer closed first
/// with nothing pending.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    parse: fn(&[u8]) -> std::io::Result<Option<Head>>,
) -> std::io::Result<Option<Head>> {
    loop {
        if let Some(head) = parse(buf)? {
            return Ok(Some(head));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(invalid("the peer closed mid-head"))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads into `buf` until it holds at least `len` bytes.
async fn read_at_least(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    len: usize,
) -> std::io::Result<()> {
    while buf.len() < len {
        let mut chunk = [0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("the peer closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// A chunked body, decoded.
fn dechunk(mut body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("a chunk without its size line"))?;
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or_else(|| invalid("a chunk size that is not hexadecimal"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err(invalid("a chunk shorter than its size"));
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// One client connection: requests until the client closes it.
async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    counters: &Counters,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(&mut client, &mut buf, parse_request).await? else {
            return Ok(());
        };
        if head.chunked() {
            client
                .write_all(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await?;
            return Ok(());
        }
        let body_len = head.content_length()?.unwrap_or(0);
        read_at_least(&mut client, &mut buf, head.len + body_len).await?;
        let body: Vec<u8> = buf[head.len..head.len + body_len].to_vec();
        buf.drain(..head.len + body_len);
        counters.requests.fetch_add(1, Ordering::SeqCst);
        if body
            .windows(b"Action=AssumeRole".len())
            .any(|w| w == b"Action=AssumeRole")
        {
            counters.assume_role.fetch_add(1, Ordering::SeqCst);
        }

        let mut request = head.rewritten(&[
            ("Content-Length", body_len.to_string()),
            ("Connection", "close".to_owned()),
        ]);
        request.extend_from_slice(&body);
        let (status_head, reply_body) = forward(upstream, &request).await?;
        let mut reply = status_head.rewritten(&[("Content-Length", reply_body.len().to_string())]);
        reply.extend_from_slice(&reply_body);
        client.write_all(&reply).await?;
    }
}

/// One request to moto on a connection of its own; its reply's head and whole body.
async fn forward(upstream: SocketAddr, request: &[u8]) -> std::io::Result<(Head, Vec<u8>)> {
    let mut moto = TcpStream::connect(upstream).await?;
    moto.write_all(request).await?;
    let mut buf = Vec::new();
    let head = read_head(&mut moto, &mut buf, parse_response)
        .await?
        .ok_or_else(|| invalid("moto closed without a reply"))?;
    let body = if let Some(len) = head.content_length()? {
        read_at_least(&mut moto, &mut buf, head.len + len).await?;
        buf[head.len..head.len + len].to_vec()
    } else {
        // Chunked or delimited by the close (the request asked for one).
        moto.read_to_end(&mut buf).await?;
        let rest = &buf[head.len..];
        if head.chunked() {
            dechunk(rest)?
        } else {
            rest.to_vec()
        }
    };
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n").expect("decodes"),
            b"hello world"
        );
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"5\r\nhel").is_err());
    }

    #[test]
    fn heads_lose_their_framing_and_hop_by_hop_headers() {
        let head = parse_request(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
        )
        .expect("parses")
        .expect("whole");
        assert_eq!(head.content_length().expect("a number"), Some(3));
        let out =
            String::from_utf8(head.rewritten(&[("Connection", "close".into())])).expect("utf-8");
        assert_eq!(
            out,
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
    }
}
