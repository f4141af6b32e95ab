//! Route 53's request rate, per account, as the fault proxy sees it: every Route 53 call the
//! functions send is timed and put to the account whose credentials signed it, and, when a
//! limit is set, refused with Route 53's own `Throttling` once the account's token bucket is
//! empty (moto never throttles; Route 53 allows a few requests a second per account, shared
//! by every tool in it).
//!
//! The account of a call: the access key of its `Authorization` header, mapped to the account
//! of the role session it belongs to. The proxy learns the mapping from the STS AssumeRole
//! answers that pass through it (`<AccessKeyId>` beside `<Arn>arn:aws:sts::ACCOUNT:
//! assumed-role/...`); a key it never saw stays `unknown (KEY)`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

/// A token bucket per account: `per_second` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// One Route 53 call as the meter saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredCall {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub account: String,
    /// Refused by the emulated limit (never reached moto).
    pub throttled: bool,
}

/// The meter's state (kept by the proxy).
#[derive(Debug, Default)]
pub struct Meter {
    accounts_by_key: HashMap<String, String>,
    calls: Vec<MeteredCall>,
    limit: Option<RateLimit>,
    buckets: HashMap<String, Bucket>,
}

impl Meter {
    pub fn set_limit(&mut self, limit: Option<RateLimit>) {
        self.limit = limit;
        self.buckets.clear();
    }

    /// Learns the keys of an STS answer (AssumeRole's XML).
    pub fn learn_from_sts(&mut self, response: &str) {
        let (Some(key), Some(arn)) = (
            between(response, "<AccessKeyId>", "</AccessKeyId>"),
            between(response, "<Arn>", "</Arn>"),
        ) else {
            return;
        };
        // arn:aws:sts::111111111111:assumed-role/NAME/SESSION
        if let Some(account) = arn.split(':').nth(4).filter(|a| !a.is_empty()) {
            self.accounts_by_key
                .insert(key.trim().to_owned(), account.to_owned());
        }
    }

    /// The account that signed a request, from its `Authorization` header.
    pub fn account_of(&self, authorization: Option<&str>) -> String {
        let key = authorization
            .and_then(|a| between(a, "Credential=", "/"))
            .unwrap_or_default();
        self.accounts_by_key
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("unknown ({key})"))
    }

    /// Records a Route 53 call at `now_ms`; returns whether the emulated limit refuses it.
    pub fn admit(&mut self, account: String, now_ms: i64) -> bool {
        let throttled = match self.limit {
            None => false,
            Some(limit) => {
                let bucket = self.buckets.entry(account.clone()).or_insert(Bucket {
                    tokens: limit.burst,
                    at_ms: now_ms,
                });
                let elapsed = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
                bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
                bucket.at_ms = now_ms;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    false
                } else {
                    true
                }
            }
        };
        self.calls.push(MeteredCall {
            at_ms: now_ms,
            account,
            throttled,
        });
        throttled
    }

    pub fn calls(&self) -> Vec<MeteredCall> {
        self.calls.clone()
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// Calls per second of one account over a span of time.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRate {
    pub account: String,
    /// Every call sent (admitted and throttled).
    pub calls: usize,
    pub throttled: usize,
    /// The most calls sent in one whole second (1-second windows from the span's start).
    pub peak_per_second: usize,
    /// The most calls sent in any 1-second window (sliding).
    pub peak_sliding: usize,
    /// Calls over the span's seconds.
    pub mean_per_second: f64,
}

impl AccountRate {
    pub fn to_json(&self) -> Value {
        json!({
            "account": self.account,
            "calls": self.calls,
            "throttled": self.throttled,
            "peakPerSecond": self.peak_per_second,
            "peakSlidingSecond": self.peak_sliding,
            "meanPerSecond": (self.mean_per_second * 100.0).round() / 100.0,
        })
    }
}

/// Per account: calls, throttled, peak and mean per second between `from_ms` and `to_ms`.
pub fn rates(calls: &[MeteredCall], from_ms: i64, to_ms: i64) -> Vec<AccountRate> {
    let span_s = ((to_ms - from_ms).max(1) as f64) / 1000.0;
    let mut by_account: BTreeMap<&str, Vec<&MeteredCall>> = BTreeMap::new();
    for call in calls
        .iter()
        .filter(|c| c.at_ms >= from_ms && c.at_ms <= to_ms)
    {
        by_account.entry(&call.account).or_default().push(call);
    }
    by_account
        .into_iter()
        .map(|(account, mut list)| {
            list.sort_by_key(|c| c.at_ms);
            let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
            for call in &list {
                *per_second.entry((call.at_ms - from_ms) / 1000).or_default() += 1;
            }
            let mut peak_sliding = 0;
            let mut start = 0;
            for end in 0..list.len() {
                while list[end].at_ms - list[start].at_ms >= 1000 {
                    start += 1;
                }
                peak_sliding = peak_sliding.max(end - start + 1);
            }
            AccountRate {
                account: account.to_owned(),
                calls: list.len(),
                throttled: list.iter().filter(|c| c.throttled).count(),
                peak_per_second: per_second.values().copied().max().unwrap_or(0),
                peak_sliding,
                mean_per_second: list.len() as f64 / span_s,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_of_a_call_is_the_one_of_the_role_session_that_signed_it() {
        let mut meter = Meter::default();
        meter.learn_from_sts(
            "<AssumeRoleResult><Credentials><AccessKeyId>ASIAXYZ</AccessKeyId></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::111111111111:assumed-role/zonehop/s</Arn></AssumedRoleUser></AssumeRoleResult>",
        );
        let auth = "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0";
        assert_eq!(meter.account_of(Some(auth)), "111111111111");
        assert_eq!(
            meter.account_of(Some("AWS4-HMAC-SHA256 Credential=AKIAOTHER/x")),
            "unknown (AKIAOTHER)"
        );
        assert_eq!(meter.account_of(None), "unknown ()");
    }

    #[test]
    fn the_bucket_refuses_past_its_burst_and_refills_at_its_rate() {
        let mut meter = Meter::default();
        meter.set_limit(Some(RateLimit {
            per_second: 5.0,
            burst: 5.0,
        }));
        let a = || "111111111111".to_owned();
        let refused: Vec<bool> = (0..7).map(|_| meter.admit(a(), 1_000)).collect();
        assert_eq!(refused, [false, false, false, false, false, true, true]);
        // 400 ms later, two tokens are back.
        assert!(!meter.admit(a(), 1_400));
        assert!(!meter.admit(a(), 1_400));
        assert!(meter.admit(a(), 1_400));
        // Another account has its own bucket.
        assert!(!meter.admit("222222222222".to_owned(), 1_400));
    }

    #[test]
    fn rates_count_peak_and_mean_per_account() {
        let call = |at_ms, account: &str, throttled| MeteredCall {
            at_ms,
            account: account.to_owned(),
            throttled,
        };
        let calls = [
            call(0, "a", false),
            call(100, "a", false),
            call(900, "a", true),
            call(1_050, "a", false),
            call(1_500, "b", false),
        ];
        let r = rates(&calls, 0, 2_000);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (
                r[0].calls,
                r[0].throttled,
                r[0].peak_per_second,
                r[0].peak_sliding
            ),
            (4, 1, 3, 3)
        );
        assert!((r[0].mean_per_second - 2.0).abs() < 1e-9);
        assert_eq!((r[1].account.as_str(), r[1].calls), ("b", 1));
    }
}
