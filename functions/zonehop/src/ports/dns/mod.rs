//! Asking DNS servers directly: the port the steps use, and what they build on it.
//!
//! Verification and the sub-delegation check must see what each authoritative server
//! itself serves, so queries go to one server at a time with RD=0. Every address comes from
//! the request or the configuration, so the same code asks AWS's servers or the local
//! world's. Adapters: the wire (`adapters::wire_dns`) and a scripted twin for unit tests
//! (`adapters::memory::ScriptedDns`).

pub mod compare;
pub mod lookup;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use zonehop_core::answers::{DnsAnswer, DnsRecord};
use zonehop_core::name::Name;
use zonehop_core::zone::RrType;

/// Why a server gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// No answer within the timeout, after every attempt.
    #[error("{server} did not answer within {timeout_ms} ms")]
    Timeout { server: SocketAddr, timeout_ms: u64 },
    /// A socket error (connection refused, unreachable...).
    #[error("{server}: {message}")]
    Io { server: SocketAddr, message: String },
    /// The answer was not a DNS message for our query.
    #[error("{server} sent a malformed answer: {message}")]
    Malformed { server: SocketAddr, message: String },
}

/// One question to one authoritative server (RD=0), in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub server: SocketAddr,
    pub name: &'a Name,
    pub rtype: RrType,
}

/// Sends queries to servers.
pub trait DnsClient: Send + Sync {
    /// Asks `server` for `name`/`rtype`; `recursion` sets the RD bit (false for
    /// authoritative servers, true when asking a resolver).
    fn query(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RrType,
        recursion: bool,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + Send;

    /// Whether this host has a route to `server`, found without sending anything: an IPv6
    /// address from a host (a Lambda outside a dual-stack VPC) with no IPv6 route has none,
    /// and asking it would only time out. By default every address is reachable.
    fn reaches(&self, server: SocketAddr) -> bool {
        let _ = server;
        true
    }

    /// Asks every one of `asks`, at most `in_flight` at once; the answers come back in the
    /// order asked. Answers that are the same message may be one shared `Arc` (the wire reads
    /// a question's answer once, however many servers send it byte for byte). By default one
    /// [`DnsClient::query`] each; the wire pipelines them (verify-zones asks every RRset of a
    /// zone of every server).
    fn query_all(
        &self,
        asks: &[Ask<'_>],
        in_flight: usize,
    ) -> impl Future<Output = Vec<Result<Arc<DnsAnswer>, DnsError>>> + Send {
        use futures_util::stream::{self, StreamExt};
        stream::iter(asks.iter().copied())
            .map(move |a| async move {
                self.query(a.server, a.name, a.rtype, false)
                    .await
                    .map(Arc::new)
            })
            .buffered(in_flight.max(1))
            .collect()
    }
}
