//! Choosing a world's address block 127.X.0.0/16 and holding it.
//!
//! knotd binds with SO_REUSEPORT (measured: "using UDP reuseport"), so two knotd processes
//! of the same user bind the same address and port without an error and split its queries.
//! A world therefore claims its block by holding a plain (no SO_REUSEPORT) UDP socket on
//! 127.X.255.254:53 for its whole life: another world's claim of X fails with EADDRINUSE and
//! it moves on to another X. It also checks that the block's root address is free.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

use super::WorldError;

/// A claimed block: released when dropped.
#[derive(Debug)]
pub struct Reservation {
    block: u8,
    _socket: UdpSocket,
}

impl Reservation {
    pub fn block(&self) -> u8 {
        self.block
    }
}

fn port53(x: u8, c: u8, d: u8) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(127, x, c, d), 53)
}

fn bind_error(addr: SocketAddrV4, error: &std::io::Error) -> Option<WorldError> {
    match error.kind() {
        ErrorKind::PermissionDenied => Some(WorldError::Port53Denied {
            addr: addr.to_string(),
            message: error.to_string(),
        }),
        ErrorKind::AddrNotAvailable => Some(WorldError::LoopbackDown {
            addr: addr.to_string(),
            message: error.to_string(),
        }),
        ErrorKind::AddrInUse => None,
        _ => Some(WorldError::Io {
            context: format!("binding {addr}"),
            message: error.to_string(),
        }),
    }
}

/// Claims `fixed`, or the first free block from a per-process starting point.
pub fn reserve(fixed: Option<u8>) -> Result<Reservation, WorldError> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let candidates: Vec<u8> = match fixed {
        Some(x) => vec![x],
        None => {
            // 127.0.x.x is left alone: moto, systemd-resolved (127.0.0.53) and /etc/hosts
            // (127.0.1.1) live there.
            let seed = std::process::id()
                .wrapping_mul(2_654_435_761)
                .wrapping_add(CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(97));
            (0..254u32)
                .map(|i| u8::try_from((seed.wrapping_add(i)) % 254 + 1).unwrap_or(1))
                .collect()
        }
    };
    for x in candidates {
        let claim = port53(x, 255, 254);
        let socket = match UdpSocket::bind(claim) {
            Ok(socket) => socket,
            Err(e) => match bind_error(claim, &e) {
                Some(fatal) => return Err(fatal),
                None => continue,
            },
        };
        let root = port53(x, 0, 1);
        let root_free = match (UdpSocket::bind(root), TcpListener::bind(root)) {
            (Ok(_), Ok(_)) => true,
            (Err(e), _) | (_, Err(e)) => match bind_error(root, &e) {
                Some(fatal) => return Err(fatal),
                None => false,
            },
        };
        if root_free {
            return Ok(Reservation {
                block: x,
                _socket: socket,
            });
        }
    }
    Err(WorldError::NoFreeBlock)
}
