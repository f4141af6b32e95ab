//! Many queries to one server over one UDP socket: up to a window of them in flight,
//! answers matched by id and question, lost ones sent again, truncated ones over TCP.
//!
//! One socket and one task per server instead of a socket per query: the answers of a
//! window arrive together and are read in one wake-up, each request is built once per
//! question (only its id differs between servers and attempts), and the servers' tasks
//! run on every worker thread. That is what brings verify-zones near the rate the servers
//! can answer (`make bench-verify`).

use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::ports::dns::{DnsAnswer, DnsError};

/// One question, encoded once and shared by every server asked it.
#[derive(Debug)]
pub(super) struct Encoded {
    /// The query with id 0 (the id is written in at each send).
    pub request: Vec<u8>,
    /// The question, to match an answer to it.
    pub name: hickory_proto::rr::Name,
    pub rtype: hickory_proto::rr::RecordType,
    /// The first whole answer read for it (the message after its id) and what it says:
    /// another server's answer that is the same bytes says the same, without being read
    /// again. Servers of zones that agree send the same message, so a question is usually
    /// read once however many servers are asked.
    pub first_answer: Mutex<Option<(Vec<u8>, Arc<DnsAnswer>)>>,
}

impl Encoded {
    /// The answer already read for these bytes (`message`, id included), if any.
    fn known(&self, message: &[u8]) -> Option<Arc<DnsAnswer>> {
        let first = self.first_answer.lock().ok()?;
        let (bytes, answer) = first.as_ref()?;
        (message.get(2..) == Some(bytes.as_slice())).then(|| Arc::clone(answer))
    }

    fn remember(&self, message: &[u8], answer: &Arc<DnsAnswer>) {
        if let (Ok(mut first), Some(bytes)) = (self.first_answer.lock(), message.get(2..)) {
            if first.is_none() {
                *first = Some((bytes.to_vec(), Arc::clone(answer)));
            }
        }
    }
}

/// One query of a server's share: its place in the batch, and its question.
#[derive(Debug)]
pub(super) struct Job {
    pub index: usize,
    pub question: Arc<Encoded>,
}

#[derive(Debug)]
struct InFlight {
    job: usize,
    attempt: u32,
}

/// What a server's pipeline needs besides its jobs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub window: usize,
    pub timeout: Duration,
    pub attempts: u32,
}

impl Limits {
    /// `server` did not answer within the timeout, after every attempt.
    pub fn timed_out(&self, server: SocketAddr) -> DnsError {
        DnsError::Timeout {
            server,
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Asks `server` every job, at most `limits.window` in flight; returns each job's answer
/// with its index (truncated answers asked again over TCP).
pub(super) async fn ask_server(
    server: SocketAddr,
    jobs: Vec<Job>,
    limits: Limits,
) -> Vec<(usize, Result<Arc<DnsAnswer>, DnsError>)> {
    let mut state = State {
        answered: vec![None; jobs.len()],
        truncated: Vec::new(),
    };
    if let Err(e) = over_udp(server, &jobs, limits, &mut state).await {
        // The socket failed (refused, unreachable): every query not answered yet fails so.
        for answer in state.answered.iter_mut().filter(|a| a.is_none()) {
            *answer = Some(Err(e.clone()));
        }
    }
    for job in std::mem::take(&mut state.truncated) {
        let question = &jobs[job].question;
        let id: u16 = rand::random();
        let mut request = Vec::new();
        put_query(&mut request, &question.request, id);
        let answer = super::over_tcp(server, id, &request, limits)
            .await
            .and_then(|m| super::answer_of(&m, server))
            .map(Arc::new);
        state.answered[job] = Some(answer);
    }
    jobs.iter()
        .zip(state.answered)
        .map(|(job, answer)| {
            let answer = answer.unwrap_or_else(|| {
                Err(DnsError::Io {
                    server,
                    message: "not asked".into(),
                })
            });
            (job.index, answer)
        })
        .collect()
}

/// What the UDP part found, by job position.
struct State {
    answered: Vec<Option<Result<Arc<DnsAnswer>, DnsError>>>,
    /// The answers that did not fit in UDP: asked again over TCP.
    truncated: Vec<usize>,
}

/// Puts `request` (encoded with id 0) into `buffer` with `id` written in.
pub(super) fn put_query(buffer: &mut Vec<u8>, request: &[u8], id: u16) {
    buffer.clear();
    buffer.extend_from_slice(request);
    buffer[..2].copy_from_slice(&id.to_be_bytes());
}

/// The UDP part: fills `state` until every job is answered, truncated or given up.
async fn over_udp(
    server: SocketAddr,
    jobs: &[Job],
    limits: Limits,
    state: &mut State,
) -> Result<(), DnsError> {
    let io = |e: std::io::Error| DnsError::Io {
        server,
        message: e.to_string(),
    };
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from anyone else.
    socket.connect(server).await.map_err(io)?;

    let window = limits.window.clamp(1, 4_096);
    let attempts = limits.attempts.max(1);
    let mut in_flight: HashMap<u16, InFlight> = HashMap::with_capacity(window);
    // Deadlines in the order sent (the timeout is the same for all): (when, id, attempt).
    let mut deadlines: VecDeque<(Instant, u16, u32)> = VecDeque::with_capacity(window);
    let mut next_job = 0;
    let mut next_id: u16 = rand::random();
    let mut send = Vec::with_capacity(512);
    let mut receive = vec![0u8; 65_535];

    loop {
        // Sent in bursts (once half the window is answered): the answers then come in
        // bursts too, and one wake-up reads many.
        let refill = in_flight.len() <= window / 2;
        while refill && in_flight.len() < window && next_job < jobs.len() {
            while in_flight.contains_key(&next_id) {
                next_id = next_id.wrapping_add(1);
            }
            let id = next_id;
            next_id = next_id.wrapping_add(1);
            put_query(&mut send, &jobs[next_job].question.request, id);
            socket.send(&send).await.map_err(io)?;
            in_flight.insert(
                id,
                InFlight {
                    job: next_job,
                    attempt: 0,
                },
            );
            deadlines.push_back((Instant::now() + limits.timeout, id, 0));
            next_job += 1;
        }
        let Some(&(first_deadline, _, _)) = deadlines.front() else {
            return Ok(());
        };
        if in_flight.is_empty() {
            return Ok(());
        }
        tokio::select! {
            ready = socket.readable() => {
                ready.map_err(io)?;
                loop {
                    let len = match socket.try_recv(&mut receive) {
                        Ok(len) => len,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(io(e)),
                    };
                    let bytes = &receive[..len];
                    let Some(id) = bytes.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
                        continue;
                    };
                    let Some(flight) = in_flight.get(&id) else {
                        // A late answer to a query already answered or given up.
                        continue;
                    };
                    let job = flight.job;
                    let question = &jobs[job].question;
                    // The same message as one already read for this question (its
                    // question section included): the same answer.
                    if let Some(answer) = question.known(bytes) {
                        in_flight.remove(&id);
                        state.answered[job] = Some(Ok(answer));
                        continue;
                    }
                    let Ok(message) = Message::from_vec(bytes) else {
                        continue;
                    };
                    let same = message.metadata.message_type == MessageType::Response
                        && message.queries.first().is_some_and(|q| {
                            q.name() == &question.name && q.query_type() == question.rtype
                        });
                    if !same {
                        continue;
                    }
                    in_flight.remove(&id);
                    if message.metadata.truncation {
                        state.truncated.push(job);
                    } else {
                        let answer = super::answer_of(&message, server).map(Arc::new);
                        if let Ok(answer) = &answer {
                            question.remember(bytes, answer);
                        }
                        state.answered[job] = Some(answer);
                    }
                }
            }
            () = tokio::time::sleep_until(first_deadline) => {
                let now = Instant::now();
                while let Some(&(deadline, id, attempt)) = deadlines.front() {
                    if deadline > now {
                        break;
                    }
                    deadlines.pop_front();
                    // Answered since, or already sent again: this deadline is stale.
                    let Some(flight) = in_flight.get_mut(&id) else { continue };
                    if flight.attempt != attempt {
                        continue;
                    }
                    if attempt + 1 < attempts {
                        flight.attempt += 1;
                        put_query(&mut send, &jobs[flight.job].question.request, id);
                        socket.send(&send).await.map_err(io)?;
                        deadlines.push_back((Instant::now() + limits.timeout, id, attempt + 1));
                    } else {
                        let job = flight.job;
                        in_flight.remove(&id);
                        state.answered[job] = Some(Err(limits.timed_out(server)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against a scripted server on loopback that answers out of order, drops a first
    //! attempt, sends answers to other questions and unknown ids, truncates one answer
    //! (served whole over TCP) and never answers another.

    use std::collections::HashSet;
    use std::net::{Ipv4Addr, SocketAddr};

    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{rdata::A, RData, Record};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, UdpSocket};
    use zonehop_core::name::Name;
    use zonehop_core::zone::RrType;

    use crate::adapters::wire_dns::WireDns;
    use crate::ports::dns::{Ask, DnsClient, DnsError};

    /// The address every `q<n>` name answers: 10.0.<n / 256>.<n % 256>.
    fn address(n: u32) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, (n / 256) as u8, (n % 256) as u8)
    }

    fn answer(query: &Message, truncated: bool) -> Message {
        let question = query.queries[0].clone();
        let label = first_label(query);
        let mut reply = Message::new(
            query.metadata.id,
            MessageType::Response,
            query.metadata.op_code,
        );
        reply.metadata.authoritative = true;
        reply.metadata.response_code = ResponseCode::NoError;
        reply.add_query(question.clone());
        if truncated {
            reply.metadata.truncation = true;
            return reply;
        }
        if let Some(n) = label.strip_prefix('q').and_then(|n| n.parse::<u32>().ok()) {
            reply.add_answer(Record::from_rdata(
                question.name().clone(),
                60,
                RData::A(A(address(n))),
            ));
        }
        if label == "big" {
            for i in 0..100 {
                reply.add_answer(Record::from_rdata(
                    question.name().clone(),
                    60,
                    RData::A(A(address(i))),
                ));
            }
        }
        reply
    }

    /// The first label of a message's question (`q7`, `big`, `silent`).
    fn first_label(message: &Message) -> String {
        message.queries[0]
            .name()
            .iter()
            .next()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default()
    }

    /// Every name asked of every server, name by name (A records).
    fn asks<'a>(names: &'a [Name], servers: &[SocketAddr]) -> Vec<Ask<'a>> {
        names
            .iter()
            .flat_map(|name| {
                servers.iter().map(move |&server| Ask {
                    server,
                    name,
                    rtype: RrType::A,
                })
            })
            .collect()
    }

    /// Serves UDP and TCP on one loopback port; returns the address.
    async fn scripted_server() -> std::net::SocketAddr {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = udp.local_addr().expect("addr");
        let tcp = TcpListener::bind(addr).await.expect("bind tcp");
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = tcp.accept().await else {
                    return;
                };
                let mut prefix = [0u8; 2];
                if stream.read_exact(&mut prefix).await.is_err() {
                    continue;
                }
                let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                if stream.read_exact(&mut body).await.is_err() {
                    continue;
                }
                let Ok(query) = Message::from_vec(&body) else {
                    continue;
                };
                let bytes = answer(&query, false).to_vec().expect("encode");
                let mut framed = u16::try_from(bytes.len())
                    .expect("len")
                    .to_be_bytes()
                    .to_vec();
                framed.extend_from_slice(&bytes);
                let _ = stream.write_all(&framed).await;
            }
        });
        tokio::spawn(async move {
            let mut seen_drop = HashSet::new();
            let mut held: Vec<(Message, std::net::SocketAddr)> = Vec::new();
            let mut buffer = vec![0u8; 4_096];
            loop {
                let received = tokio::time::timeout(
                    std::time::Duration::from_millis(20),
                    udp.recv_from(&mut buffer),
                )
                .await;
                match received {
                    Ok(Ok((len, from))) => {
                        let Ok(query) = Message::from_vec(&buffer[..len]) else {
                            continue;
                        };
                        let label = first_label(&query);
                        if label == "silent" {
                            continue;
                        }
                        if label.starts_with("q1") && seen_drop.insert(label.clone()) {
                            // Lost the first time: only a second attempt gets an answer.
                            continue;
                        }
                        held.push((query, from));
                        if held.len() < 8 {
                            continue;
                        }
                    }
                    Ok(Err(_)) => return,
                    Err(_) => {}
                }
                // Answer what is held, last first, each after two decoys: an answer to
                // another question under its id, and one to an id nobody used.
                for (query, from) in held.drain(..).rev() {
                    let mut other = query.clone();
                    other.queries[0].set_name(
                        hickory_proto::rr::Name::from_ascii("decoy.example.").expect("name"),
                    );
                    let _ = udp
                        .send_to(&answer(&other, false).to_vec().expect("encode"), from)
                        .await;
                    let mut stray = query.clone();
                    stray.metadata.id = query.metadata.id.wrapping_add(30_000);
                    let _ = udp
                        .send_to(&answer(&stray, false).to_vec().expect("encode"), from)
                        .await;
                    let reply = answer(&query, first_label(&query) == "big");
                    let _ = udp.send_to(&reply.to_vec().expect("encode"), from).await;
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn every_answer_reaches_its_own_question_whatever_the_order_loss_and_decoys() {
        let server = scripted_server().await;
        let mut names: Vec<Name> = (0..300)
            .map(|n| Name::parse(&format!("q{n}.example.com")).expect("name"))
            .collect();
        names.push(Name::parse("big.example.com").expect("name"));
        names.push(Name::parse("silent.example.com").expect("name"));
        let asks = asks(&names, &[server]);
        let dns = WireDns::new(std::time::Duration::from_millis(300), 2);
        let answers = dns.query_all(&asks, 32).await;
        assert_eq!(answers.len(), asks.len());
        for (n, reply) in answers.iter().take(300).enumerate() {
            let reply = reply.as_ref().unwrap_or_else(|e| panic!("q{n}: {e}"));
            let data: Vec<&str> = reply.answers.iter().map(|r| r.data.as_str()).collect();
            assert_eq!(data, [address(n as u32).to_string()], "q{n}");
            assert_eq!(reply.answers[0].name, names[n], "q{n}");
        }
        let big = answers[300].as_ref().expect("big, over TCP");
        assert_eq!(
            big.answers.len(),
            100,
            "the truncated answer, whole over TCP"
        );
        assert!(
            matches!(answers[301], Err(DnsError::Timeout { .. })),
            "{:?}",
            answers[301]
        );
    }

    #[tokio::test]
    async fn the_same_message_from_two_servers_is_read_once_and_shared() {
        let servers = [scripted_server().await, scripted_server().await];
        let names: Vec<Name> = (0..50)
            .map(|n| Name::parse(&format!("q{}.example.com", n + 200)).expect("name"))
            .collect();
        let asks = asks(&names, &servers);
        let dns = WireDns::new(std::time::Duration::from_millis(300), 2);
        let answers = dns.query_all(&asks, 16).await;
        for (n, pair) in answers.chunks(2).enumerate() {
            let (Ok(first), Ok(second)) = (&pair[0], &pair[1]) else {
                panic!("q{}: {pair:?}", n + 200);
            };
            assert_eq!(first.answers[0].data, address(n as u32 + 200).to_string());
            assert!(std::sync::Arc::ptr_eq(first, second), "q{}", n + 200);
        }
    }

    #[tokio::test]
    async fn a_server_that_refuses_fails_each_of_its_queries_and_no_other() {
        let good = scripted_server().await;
        // A port nobody listens on: the kernel answers with ICMP port unreachable.
        let closed = {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            socket.local_addr().expect("addr")
        };
        let names: Vec<Name> = (0..20)
            .map(|n| Name::parse(&format!("q{}.example.com", n + 500)).expect("name"))
            .collect();
        let asks = asks(&names, &[good, closed]);
        let dns = WireDns::new(std::time::Duration::from_millis(300), 2);
        let answers = dns.query_all(&asks, 8).await;
        for (ask, reply) in asks.iter().zip(&answers) {
            if ask.server == good {
                assert!(reply.is_ok(), "{}: {reply:?}", ask.name);
            } else {
                assert!(
                    matches!(reply, Err(DnsError::Io { .. } | DnsError::Timeout { .. })),
                    "{}: {reply:?}",
                    ask.name
                );
            }
        }
    }
}
