//! The smallest HTTP/1.1 client the local world needs: one request per connection to a
//! loopback server (moto, `cargo lambda watch`), `Connection: close`, the reply read to the
//! end and a chunked body decoded. No TLS, no redirects, no keep-alive.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A reply: its status, its header block (lower-cased) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// True when the reply carries the header `name` (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        let wanted = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().any(|line| line.starts_with(&wanted))
    }
}

/// Sends `method path` with `headers` and `body` to `127.0.0.1:port` and reads the reply.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(format!("{head}{body}").as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(parse_reply(&String::from_utf8_lossy(&raw)))
}

fn parse_reply(text: &str) -> Reply {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let head = head.to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply { status, head, body }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_reply_is_decoded_and_headers_are_found_in_any_case() {
        let reply = parse_reply(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Function-Error: Unhandled\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "{\"a\":1}");
        assert!(reply.has_header("X-Amz-Function-Error"));
        assert!(!reply.has_header("X-Amz-Function"));
        let plain =
            parse_reply("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno");
        assert_eq!((plain.status, plain.body.as_str()), (500, "no"));
    }
}
