//! Packing planned changes into ChangeResourceRecordSets requests.
//!
//! Route 53 takes at most 1,000 `ResourceRecord` values and 32,000 characters summed over
//! the `Value` elements per request, and counts an UPSERT twice against both. Within one
//! phase of a plan the changes are independent, so they may be packed in any order: we
//! look for the smallest number of requests that holds them, starting from the lower bound
//! that the two limits give and packing "largest first, into the emptiest request".

use serde::Serialize;

use crate::change::{Action, Change};

/// The per-request limits of ChangeResourceRecordSets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchLimits {
    pub max_values: usize,
    pub max_chars: usize,
}

impl BatchLimits {
    /// Route 53's documented limits.
    pub const ROUTE53: BatchLimits = BatchLimits {
        max_values: 1_000,
        max_chars: 32_000,
    };
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits::ROUTE53
    }
}

/// What one change costs against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Cost {
    pub values: usize,
    pub chars: usize,
}

impl Cost {
    /// Route 53 counts an UPSERT twice against both limits.
    pub fn of(change: &Change) -> Cost {
        let factor = if change.action == Action::Upsert {
            2
        } else {
            1
        };
        Cost {
            values: change.record.value_count() * factor,
            chars: change.record.value_chars() * factor,
        }
    }

    pub fn of_batch(batch: &[Change]) -> Cost {
        batch
            .iter()
            .map(Cost::of)
            .fold(Cost::default(), |a, b| Cost {
                values: a.values + b.values,
                chars: a.chars + b.chars,
            })
    }

    pub fn fits(self, limits: BatchLimits) -> bool {
        self.values <= limits.max_values && self.chars <= limits.max_chars
    }
}

/// The fewest requests the limits allow for these changes: no packing can do better.
pub fn lower_bound(changes: &[Change], limits: BatchLimits) -> usize {
    if changes.is_empty() {
        return 0;
    }
    let total = Cost::of_batch(changes);
    total
        .values
        .div_ceil(limits.max_values)
        .max(total.chars.div_ceil(limits.max_chars))
        .max(1)
}

/// Packs one phase's changes into requests within `limits`. Every single change must fit
/// the limits on its own (the planner refuses the ones that do not).
pub fn pack(changes: &[Change], limits: BatchLimits) -> Vec<Vec<Change>> {
    if changes.is_empty() {
        return Vec::new();
    }
    let mut order: Vec<(usize, Cost)> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (i, Cost::of(c)))
        .collect();
    // Largest first: characters are the binding limit for long TXT values, values for
    // many small records; sorting on the larger share of either limit handles both.
    let share = |c: Cost| (c.chars * limits.max_values).max(c.values * limits.max_chars);
    order.sort_by(|a, b| share(b.1).cmp(&share(a.1)).then(a.0.cmp(&b.0)));

    let mut bins = lower_bound(changes, limits);
    loop {
        if let Some(assignment) = try_pack(&order, bins, limits) {
            return assignment
                .into_iter()
                .filter(|members| !members.is_empty())
                .map(|members| members.into_iter().map(|i| changes[i].clone()).collect())
                .collect();
        }
        bins += 1;
    }
}

/// Worst-fit decreasing into exactly `bins` requests; `None` when something does not fit.
fn try_pack(order: &[(usize, Cost)], bins: usize, limits: BatchLimits) -> Option<Vec<Vec<usize>>> {
    let mut used = vec![Cost::default(); bins];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); bins];
    for &(index, cost) in order {
        let mut best: Option<usize> = None;
        for (b, load) in used.iter().enumerate() {
            let after = Cost {
                values: load.values + cost.values,
                chars: load.chars + cost.chars,
            };
            if !after.fits(limits) {
                continue;
            }
            // The emptiest request is the one with the most room left under its tighter limit.
            let room = |c: Cost| {
                ((limits.max_chars - c.chars) * limits.max_values)
                    .min((limits.max_values - c.values) * limits.max_chars)
            };
            if best.is_none_or(|other| room(*load) > room(used[other])) {
                best = Some(b);
            }
        }
        let b = best?;
        used[b].values += cost.values;
        used[b].chars += cost.chars;
        members[b].push(index);
    }
    Some(members)
}

/// Route 53's limit on a change batch's or a new zone's `Comment` (characters).
pub const MAX_COMMENT_CHARS: usize = 256;

/// `text` cut to [`MAX_COMMENT_CHARS`] characters (on a character boundary, whatever the
/// domain's length), so that Route 53 never refuses a change for its comment.
pub fn limit_comment(text: &str) -> String {
    text.chars().take(MAX_COMMENT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::zone::{RecordSet, RrType};

    fn create(name: &str, rtype: RrType, values: &[&str]) -> Change {
        Change {
            action: Action::Create,
            record: RecordSet::simple(Name::parse(name).expect("name"), rtype, 300, values),
        }
    }

    /// A 2048-bit DKIM key as Route 53 holds it: 410 characters in two quoted strings.
    fn dkim_value(seed: usize) -> String {
        let key: String = (0..392)
            .map(|i| char::from(b'A' + ((i * 7 + seed) % 26) as u8))
            .collect();
        let text = format!("v=DKIM1; k=rsa; p={key}");
        format!("\"{}\" \"{}\"", &text[..255], &text[255..])
    }

    fn assert_legal(batches: &[Vec<Change>], limits: BatchLimits) {
        for batch in batches {
            let cost = Cost::of_batch(batch);
            assert!(cost.fits(limits), "batch over the limits: {cost:?}");
        }
    }

    #[test]
    fn long_dkim_values_are_packed_by_characters_and_reach_the_lower_bound() {
        let changes: Vec<Change> = (0..500)
            .map(|i| {
                let value = dkim_value(i);
                create(
                    &format!("s{i}._domainkey.example.com"),
                    RrType::TXT,
                    &[&value],
                )
            })
            .collect();
        let limits = BatchLimits::ROUTE53;
        let total = Cost::of_batch(&changes);
        assert!(
            total.values <= limits.max_values,
            "values are not the binding limit here"
        );
        let batches = pack(&changes, limits);
        assert_legal(&batches, limits);
        assert_eq!(batches.len(), lower_bound(&changes, limits));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), changes.len());
        assert!(batches.len() >= total.chars.div_ceil(32_000));
    }

    #[test]
    fn an_upsert_counts_twice_against_both_limits() {
        let mut change = create("x.example.com", RrType::TXT, &["\"abcd\"", "\"efgh\""]);
        assert_eq!(
            Cost::of(&change),
            Cost {
                values: 2,
                chars: 12
            }
        );
        change.action = Action::Upsert;
        assert_eq!(
            Cost::of(&change),
            Cost {
                values: 4,
                chars: 24
            }
        );
    }

    #[test]
    fn many_small_records_are_bound_by_the_value_limit() {
        let changes: Vec<Change> = (0..2_500)
            .map(|i| create(&format!("h{i}.example.com"), RrType::A, &["192.0.2.1"]))
            .collect();
        let batches = pack(&changes, BatchLimits::ROUTE53);
        assert_eq!(batches.len(), 3);
        assert_legal(&batches, BatchLimits::ROUTE53);
    }

    #[test]
    fn exactly_one_thousand_values_fit_in_one_request() {
        let changes: Vec<Change> = (0..1_000)
            .map(|i| create(&format!("h{i}.example.com"), RrType::A, &["192.0.2.1"]))
            .collect();
        assert_eq!(pack(&changes, BatchLimits::ROUTE53).len(), 1);
    }

    #[test]
    fn a_mixed_zone_packs_within_one_of_the_lower_bound() {
        // The benchmark's shape: many A records and a quarter long TXT records.
        let mut changes = Vec::new();
        for i in 0..3_000 {
            changes.push(create(
                &format!("a{i}.example.com"),
                RrType::A,
                &["198.51.100.200"],
            ));
            if i % 3 == 0 {
                let value = dkim_value(i);
                changes.push(create(&format!("t{i}.example.com"), RrType::TXT, &[&value]));
            }
        }
        let limits = BatchLimits::ROUTE53;
        let batches = pack(&changes, limits);
        assert_legal(&batches, limits);
        assert!(batches.len() <= lower_bound(&changes, limits) + 1);
    }

    #[test]
    fn nothing_to_pack_means_no_request() {
        assert!(pack(&[], BatchLimits::ROUTE53).is_empty());
        assert_eq!(lower_bound(&[], BatchLimits::ROUTE53), 0);
    }

    #[test]
    fn comments_stay_within_route53s_256_characters_whatever_the_domain() {
        let long = format!("zonehop: apex NS of {}", "é".repeat(400));
        let limited = limit_comment(&long);
        assert_eq!(limited.chars().count(), MAX_COMMENT_CHARS);
        assert!(long.starts_with(&limited));
        assert_eq!(limit_comment("short"), "short");
    }
}
