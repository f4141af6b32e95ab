//! One question to a caching resolver (RD=1, UDP with EDNS0, TCP on truncation), and of its
//! reply the rcode and the question's RRset in canonical wire form.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name as WireName, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::expectations::{canonical, record_type, Answer, DataSet, Question};
use super::model::MAX_CHAIN;

/// The largest UDP answer asked for (the DNS flag day 2020 size).
const UDP_PAYLOAD: u16 = 1_232;

/// A question ready for the wire.
#[derive(Debug, Clone)]
pub struct WireQuestion {
    pub name: WireName,
    pub rtype: RecordType,
}

impl WireQuestion {
    pub fn new(question: &Question) -> Result<WireQuestion, String> {
        let labels = question.name.raw_labels();
        let mut name = WireName::from_labels(labels.iter().map(Vec::as_slice))
            .map_err(|e| format!("{}: {e}", question.name))?;
        name.set_fqdn(true);
        Ok(WireQuestion {
            name,
            rtype: record_type(question.rtype),
        })
    }
}

/// Query ids only need to tell this process's outstanding queries apart (each query has
/// its own socket too).
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// Asks `resolver` (recursion desired); no reply within `timeout` is [`Answer::NoReply`].
pub async fn ask(resolver: SocketAddr, question: &WireQuestion, timeout: Duration) -> Answer {
    let id = next_id();
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(question.name.clone(), question.rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message.edns = Some(edns);
    let request = match message.to_vec() {
        Ok(bytes) => bytes,
        Err(e) => return Answer::Malformed(format!("cannot encode the query: {e}")),
    };
    let reply = match tokio::time::timeout(timeout, exchange(resolver, id, &request)).await {
        Err(_) => return Answer::NoReply,
        Ok(Err(e)) => return Answer::Malformed(e),
        Ok(Ok(reply)) => reply,
    };
    let data = match final_rrset(&reply.answers, question) {
        Ok(data) => data,
        Err(e) => return Answer::Malformed(e),
    };
    Answer::Reply {
        rcode: reply.metadata.response_code,
        data,
    }
}

/// UDP, then TCP when the reply is truncated.
async fn exchange(resolver: SocketAddr, id: u16, request: &[u8]) -> Result<Message, String> {
    let socket = UdpSocket::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("bind: {e}"))?;
    socket
        .send_to(request, resolver)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buffer = vec![0u8; usize::from(UDP_PAYLOAD)];
    loop {
        let (len, from) = socket
            .recv_from(&mut buffer)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if from != resolver {
            continue;
        }
        let message = Message::from_vec(&buffer[..len]).map_err(|e| e.to_string())?;
        if message.metadata.id != id || message.metadata.message_type != MessageType::Response {
            continue;
        }
        if !message.metadata.truncation {
            return Ok(message);
        }
        break;
    }
    let mut stream = TcpStream::connect(resolver)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let length = u16::try_from(request.len()).map_err(|_| "query too long".to_owned())?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let mut prefix = [0u8; 2];
    stream
        .read_exact(&mut prefix)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let message = Message::from_vec(&body).map_err(|e| e.to_string())?;
    if message.metadata.id != id {
        return Err("a TCP reply to another query".to_owned());
    }
    Ok(message)
}

/// The question's RRset in an answer section: the records of its name and type, after the
/// CNAME chain from its name when another type than CNAME was asked.
pub fn final_rrset(answers: &[Record], question: &WireQuestion) -> Result<DataSet, String> {
    let mut name = question.name.clone();
    for _ in 0..MAX_CHAIN {
        let mut data = DataSet::new();
        for record in answers
            .iter()
            .filter(|r| r.name == name && r.record_type() == question.rtype)
        {
            data.insert(canonical(&record.data)?, presentation(&record.data));
        }
        if !data.is_empty() || question.rtype == RecordType::CNAME {
            return Ok(data);
        }
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name == name => Some(target.0.clone()),
            _ => None,
        });
        match next {
            Some(target) => name = target,
            None => return Ok(data),
        }
    }
    Err(format!("a CNAME chain longer than {MAX_CHAIN}"))
}

/// For a report: hickory's presentation, TXT and SPF (type 99) as quoted strings.
fn presentation(data: &RData) -> String {
    let quoted = |strings: &[Box<[u8]>]| {
        strings
            .iter()
            .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match data {
        RData::TXT(txt) => quoted(&txt.txt_data),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::rdata::{A, CNAME};
    use zonehop::core::zone::RrType;

    fn name(s: &str) -> WireName {
        WireName::from_ascii(s).expect("name")
    }

    fn record(owner: &str, data: RData) -> Record {
        Record::from_rdata(name(owner), 60, data)
    }

    fn question(s: &str, rtype: RrType) -> WireQuestion {
        WireQuestion::new(&Question {
            name: zonehop::Name::parse(s).expect("name"),
            rtype,
        })
        .expect("question")
    }

    #[test]
    fn the_chain_is_followed_to_the_asked_type_unless_a_cname_was_asked() {
        let answers = [
            record(
                "app.example.com.",
                RData::CNAME(CNAME(name("WWW.example.com."))),
            ),
            record("www.example.com.", RData::A(A::new(203, 0, 113, 7))),
        ];
        let a = final_rrset(&answers, &question("APP.example.com", RrType::A)).expect("a");
        assert_eq!(a.values().collect::<Vec<_>>(), ["203.0.113.7"]);
        let cname =
            final_rrset(&answers, &question("app.example.com", RrType::CNAME)).expect("cname");
        assert_eq!(
            cname.keys().next(),
            Some(&canonical(&RData::CNAME(CNAME(name("www.example.com.")))).expect("wire"))
        );
        let none = final_rrset(&answers, &question("app.example.com", RrType::AAAA)).expect("x");
        assert!(none.is_empty());
        let _ = ResponseCode::NoError;
    }
}
