//! The DNS port on the wire: one query to one server, UDP, and TCP on truncation (hickory's
//! protocol types; the sockets are ours, pooled); a batch pipelined per server
//! ([`pipeline`]).

mod pipeline;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use zonehop_core::name::Name;
use zonehop_core::zone::RrType;

use crate::ports::dns::{Ask, DnsAnswer, DnsClient, DnsError, DnsRecord};

/// Queries on the wire: UDP, and TCP on truncation.
#[derive(Debug, Clone)]
pub struct WireDns {
    pub timeout: Duration,
    pub attempts: u32,
    /// Idle UDP sockets, reused: binding and registering a socket per query cost more
    /// than the query itself when verifying thousands of RRsets.
    idle: Arc<Mutex<Vec<UdpSocket>>>,
}

impl WireDns {
    pub fn new(timeout: Duration, attempts: u32) -> WireDns {
        WireDns {
            timeout,
            attempts,
            idle: Arc::default(),
        }
    }
}

impl Default for WireDns {
    /// Authoritative servers answer in well under a millisecond on a LAN and tens of
    /// milliseconds across the internet: one second, three tries.
    fn default() -> Self {
        WireDns::new(Duration::from_secs(1), 3)
    }
}

/// How many idle sockets are kept for reuse.
const IDLE_SOCKETS: usize = 512;

/// The largest UDP answer we accept.
const UDP_PAYLOAD: u16 = 1_232;

/// The wire type of a Route 53 type (SPF is 99 on the wire; hickory has no name for it).
pub fn record_type(rtype: RrType) -> RecordType {
    match rtype {
        RrType::A => RecordType::A,
        RrType::AAAA => RecordType::AAAA,
        RrType::CAA => RecordType::CAA,
        RrType::CNAME => RecordType::CNAME,
        RrType::DS => RecordType::DS,
        RrType::HTTPS => RecordType::HTTPS,
        RrType::MX => RecordType::MX,
        RrType::NAPTR => RecordType::NAPTR,
        RrType::NS => RecordType::NS,
        RrType::PTR => RecordType::PTR,
        RrType::SOA => RecordType::SOA,
        // SPF is type 99 on the wire.
        RrType::SPF => RecordType::Unknown(99),
        RrType::SRV => RecordType::SRV,
        RrType::SSHFP => RecordType::SSHFP,
        RrType::SVCB => RecordType::SVCB,
        RrType::TLSA => RecordType::TLSA,
        RrType::TXT => RecordType::TXT,
    }
}

fn type_name(rtype: RecordType) -> String {
    match rtype {
        RecordType::Unknown(99) => "SPF".to_owned(),
        other => other.to_string(),
    }
}

/// Presentation form of the data; TXT keeps its string boundaries (hickory's Display
/// would join them, and `"a" "b"` is not `"ab"`).
fn presentation(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| {
                let text = String::from_utf8_lossy(s);
                format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

fn convert(record: &Record, server: SocketAddr) -> Result<DnsRecord, DnsError> {
    let name = Name::from_raw_labels(record.name.iter()).map_err(|e| DnsError::Malformed {
        server,
        message: format!("record name: {e}"),
    })?;
    Ok(DnsRecord {
        name,
        rtype: type_name(record.record_type()),
        ttl: record.ttl,
        data: presentation(&record.data),
    })
}

fn to_hickory_name(name: &Name) -> Result<hickory_proto::rr::Name, String> {
    let labels = name.raw_labels();
    let mut out = hickory_proto::rr::Name::from_labels(labels.iter().map(Vec::as_slice))
        .map_err(|e| e.to_string())?;
    out.set_fqdn(true);
    Ok(out)
}

/// A query with id 0 (the id is written in at each send): `recursion` sets RD, and EDNS0
/// offers 1,232 bytes (the DNS flag day 2020 size), so long TXT RRsets fit in one UDP answer
/// instead of a truncated one and a TCP retry.
fn encode(name: &Name, rtype: RrType, recursion: bool) -> Result<pipeline::Encoded, String> {
    let hickory_name = to_hickory_name(name)?;
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = recursion;
    message.add_query(Query::query(hickory_name.clone(), record_type(rtype)));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message.edns = Some(edns);
    Ok(pipeline::Encoded {
        request: message.to_vec().map_err(|e| e.to_string())?,
        name: hickory_name,
        rtype: record_type(rtype),
        first_answer: Mutex::default(),
    })
}

impl WireDns {
    fn limits(&self, window: usize) -> pipeline::Limits {
        pipeline::Limits {
            window,
            timeout: self.timeout,
            attempts: self.attempts,
        }
    }

    fn request(
        &self,
        name: &Name,
        rtype: RrType,
        recursion: bool,
    ) -> Result<(u16, Vec<u8>), String> {
        let id: u16 = rand::random();
        let mut bytes = Vec::new();
        pipeline::put_query(&mut bytes, &encode(name, rtype, recursion)?.request, id);
        Ok((id, bytes))
    }

    async fn over_udp(
        &self,
        server: SocketAddr,
        id: u16,
        request: &[u8],
    ) -> Result<Message, DnsError> {
        let io = |e: std::io::Error| DnsError::Io {
            server,
            message: e.to_string(),
        };
        // The pool holds IPv4 sockets; an IPv6 server gets a socket of its own.
        let reused = if server.is_ipv4() {
            self.idle.lock().ok().and_then(|mut idle| idle.pop())
        } else {
            None
        };
        let socket = match reused {
            Some(socket) => socket,
            None => {
                let local: SocketAddr = if server.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                UdpSocket::bind(local).await.map_err(io)?
            }
        };
        let mut buffer = [0u8; UDP_PAYLOAD as usize];
        for _ in 0..self.attempts.max(1) {
            socket.send_to(request, server).await.map_err(io)?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await {
                    Err(_) => break,
                    Ok(Err(e)) => return Err(io(e)),
                    Ok(Ok((len, from))) => {
                        // A late answer to an earlier query on this socket, or from
                        // elsewhere, is not ours: only this server and this id count.
                        if from != server {
                            continue;
                        }
                        if let Ok(message) = Message::from_vec(&buffer[..len]) {
                            if message.metadata.id == id
                                && message.metadata.message_type == MessageType::Response
                            {
                                if let Ok(mut idle) = self.idle.lock() {
                                    if server.is_ipv4() && idle.len() < IDLE_SOCKETS {
                                        idle.push(socket);
                                    }
                                }
                                return Ok(message);
                            }
                        }
                    }
                }
            }
        }
        Err(self.limits(1).timed_out(server))
    }
}

/// One query over TCP (after a truncated UDP answer), within `timeout` × `attempts`.
async fn over_tcp(
    server: SocketAddr,
    id: u16,
    request: &[u8],
    limits: pipeline::Limits,
) -> Result<Message, DnsError> {
    let io = |e: std::io::Error| DnsError::Io {
        server,
        message: e.to_string(),
    };
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.map_err(io)?;
        let length = u16::try_from(request.len()).map_err(|_| DnsError::Malformed {
            server,
            message: "query too long".into(),
        })?;
        let mut framed = length.to_be_bytes().to_vec();
        framed.extend_from_slice(request);
        stream.write_all(&framed).await.map_err(io)?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).await.map_err(io)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut body).await.map_err(io)?;
        Message::from_vec(&body).map_err(|e| DnsError::Malformed {
            server,
            message: e.to_string(),
        })
    };
    let message = tokio::time::timeout(limits.timeout * limits.attempts.max(1), exchange)
        .await
        .map_err(|_| limits.timed_out(server))??;
    if message.metadata.id != id {
        return Err(DnsError::Malformed {
            server,
            message: "answer to another query".into(),
        });
    }
    Ok(message)
}

/// The port's view of an answer.
fn answer_of(message: &Message, server: SocketAddr) -> Result<DnsAnswer, DnsError> {
    let rcode = match message.metadata.response_code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => other.to_string().to_uppercase(),
    };
    Ok(DnsAnswer {
        rcode,
        authoritative: message.metadata.authoritative,
        answers: message
            .answers
            .iter()
            .map(|r| convert(r, server))
            .collect::<Result<_, _>>()?,
        authorities: message
            .authorities
            .iter()
            .map(|r| convert(r, server))
            .collect::<Result<_, _>>()?,
    })
}

impl DnsClient for WireDns {
    /// A UDP socket of the address's family connected to it: `connect` looks the route up
    /// and sends nothing (it fails with "network unreachable" on a host without IPv6).
    fn reaches(&self, server: SocketAddr) -> bool {
        let local: SocketAddr = if server.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        std::net::UdpSocket::bind(local).is_ok_and(|socket| socket.connect(server).is_ok())
    }

    async fn query(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RrType,
        recursion: bool,
    ) -> Result<DnsAnswer, DnsError> {
        let (id, request) = self
            .request(name, rtype, recursion)
            .map_err(|message| DnsError::Malformed { server, message })?;
        let mut message = self.over_udp(server, id, &request).await?;
        if message.metadata.truncation {
            message = over_tcp(server, id, &request, self.limits(1)).await?;
        }
        answer_of(&message, server)
    }

    /// Pipelined: one socket and one task per server, the servers' tasks in parallel
    /// ([`pipeline`]); each question encoded once.
    async fn query_all(
        &self,
        asks: &[Ask<'_>],
        in_flight: usize,
    ) -> Vec<Result<Arc<DnsAnswer>, DnsError>> {
        let mut results: Vec<Option<Result<Arc<DnsAnswer>, DnsError>>> = vec![None; asks.len()];
        let mut encoded: HashMap<(&Name, RrType), Arc<pipeline::Encoded>> = HashMap::new();
        let mut by_server: BTreeMap<SocketAddr, Vec<pipeline::Job>> = BTreeMap::new();
        for (index, ask) in asks.iter().enumerate() {
            let question = match encoded.get(&(ask.name, ask.rtype)) {
                Some(q) => Arc::clone(q),
                None => match encode(ask.name, ask.rtype, false) {
                    Ok(q) => {
                        let q = Arc::new(q);
                        encoded.insert((ask.name, ask.rtype), Arc::clone(&q));
                        q
                    }
                    Err(message) => {
                        results[index] = Some(Err(DnsError::Malformed {
                            server: ask.server,
                            message,
                        }));
                        continue;
                    }
                },
            };
            by_server
                .entry(ask.server)
                .or_default()
                .push(pipeline::Job { index, question });
        }
        let limits = self.limits(in_flight.max(1).div_ceil(by_server.len().max(1)));
        let tasks: Vec<_> = by_server
            .into_iter()
            .map(|(server, jobs)| {
                (
                    server,
                    tokio::spawn(pipeline::ask_server(server, jobs, limits)),
                )
            })
            .collect();
        for (server, task) in tasks {
            match task.await {
                Ok(answers) => {
                    for (index, answer) in answers {
                        results[index] = Some(answer);
                    }
                }
                Err(e) => {
                    for (i, ask) in asks.iter().enumerate() {
                        if ask.server == server && results[i].is_none() {
                            results[i] = Some(Err(DnsError::Io {
                                server,
                                message: format!("the query task ended: {e}"),
                            }));
                        }
                    }
                }
            }
        }
        results
            .into_iter()
            .zip(asks)
            .map(|(r, ask)| {
                r.unwrap_or_else(|| {
                    Err(DnsError::Io {
                        server: ask.server,
                        message: "not asked".into(),
                    })
                })
            })
            .collect()
    }
}
