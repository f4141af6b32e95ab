//! A minimal DNS client over UDP, for the harness's own readiness checks (the tests use
//! `dig`): one question, and of the answer only the header.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;

/// The header of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub rcode: u8,
    pub authoritative: bool,
    pub answers: u16,
}

/// Query ids only need to tell this process's own outstanding queries apart.
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u16)
}

/// The wire form of a plain ASCII name (`a.root.zonehop-dns.test.`, `.`).
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        out.push(u8::try_from(bytes.len()).unwrap_or(63));
        out.extend_from_slice(bytes);
    }
    out.push(0);
    out
}

/// Asks `server` one question; `recursion` sets RD.
pub async fn query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    recursion: bool,
    timeout: Duration,
) -> std::io::Result<Reply> {
    let id = next_id();
    let mut packet = Vec::with_capacity(64);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&(if recursion { 0x0100u16 } else { 0 }).to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    packet.extend_from_slice(&encode_name(name));
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.connect(server).await?;
    socket.send(&packet).await?;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let len = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply"))??;
        if len < 12 || buf[0..2] != id.to_be_bytes() {
            continue;
        }
        return Ok(Reply {
            rcode: buf[3] & 0x0f,
            authoritative: buf[2] & 0x04 != 0,
            answers: u16::from_be_bytes([buf[6], buf[7]]),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_as_length_prefixed_labels() {
        assert_eq!(encode_name("."), [0]);
        assert_eq!(encode_name("ab.c."), [2, b'a', b'b', 1, b'c', 0]);
        assert_eq!(encode_name("ab.c"), [2, b'a', b'b', 1, b'c', 0]);
    }
}
