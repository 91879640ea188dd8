//! Reassembly of concatenated short messages (TS 23.040 §9.2.3.24.1 / .8, or SMPP SAR values) that arrive out of
//! order, twice, or not at all. Sans-IO: the caller feeds parts with its own "now" (milliseconds on any monotonic
//! scale) and calls [`Reassembler::expire`] when it wants timed-out messages back.

use std::collections::HashMap;

use super::tpdu::Deliver;

/// One received part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The originator (TP-OA as displayed, or SMPP source_addr).
    pub sender: String,
    /// Concatenation reference (8- or 16-bit) or sar_msg_ref_num.
    pub reference: u16,
    /// Total number of parts.
    pub total: u8,
    /// This part's number, from 1.
    pub number: u8,
    /// The part's decoded text.
    pub text: String,
}

impl Part {
    /// The part an SMS-DELIVER carries: `None` when it is not concatenated (or is 8-bit data), in which case it is
    /// a whole message by itself.
    pub fn from_deliver(d: &Deliver) -> Option<Part> {
        let c = d.tp_ud.header.as_ref()?.concat()?;
        Some(Part {
            sender: d.tp_oa.display(),
            reference: c.reference,
            total: c.parts,
            number: c.number,
            text: d.text()?,
        })
    }
}

/// A message handed back by the reassembler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledMessage {
    /// The originator.
    pub sender: String,
    /// The concatenation reference.
    pub reference: u16,
    /// Total number of parts announced.
    pub total: u8,
    /// The text of the parts that arrived, in part order.
    pub text: String,
    /// Whether every part arrived.
    pub complete: bool,
    /// Part numbers that did not arrive (empty when complete).
    pub missing: Vec<u8>,
}

/// What feeding one part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The part completed its message.
    Complete(ReassembledMessage),
    /// Stored; more parts are awaited.
    Pending,
    /// The same part number had already arrived (the first copy is kept).
    Duplicate,
    /// The part numbers are impossible (number 0, number above total, or total 0); TS 23.040 §9.2.3.24.1 says
    /// to ignore the element, so the caller should treat the text as a message by itself.
    Invalid,
    /// Stored, but to make room the oldest pending message was handed back incomplete.
    Evicted(ReassembledMessage),
}

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// How long a message may wait for its next part, in the caller's time unit (milliseconds).
    pub timeout_ms: u64,
    /// At most this many messages pending at once.
    pub max_pending: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 5 * 60 * 1000,
            max_pending: 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    sender: String,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct Pending {
    parts: Vec<Option<String>>,
    received: usize,
    first_seen: u64,
    last_seen: u64,
}

/// Collects parts keyed by (sender, reference, total).
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    pending: HashMap<Key, Pending>,
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(config: ReassemblyConfig) -> Self {
        Self {
            config,
            pending: HashMap::new(),
        }
    }

    /// Messages waiting for parts.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Feeds one part received at `now`.
    pub fn push(&mut self, part: Part, now: u64) -> PushOutcome {
        if part.total == 0 || part.number == 0 || part.number > part.total {
            return PushOutcome::Invalid;
        }
        let key = Key {
            sender: part.sender,
            reference: part.reference,
            total: part.total,
        };
        if key.total == 1 {
            // A one-part "concatenated" message is whole: nothing to store, nothing to evict for it.
            let p = Pending {
                parts: vec![Some(part.text)],
                received: 1,
                first_seen: now,
                last_seen: now,
            };
            return PushOutcome::Complete(finish(key, p));
        }
        let mut evicted = None;
        if !self.pending.contains_key(&key) && self.pending.len() >= self.config.max_pending.max(1)
        {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                if let Some(p) = self.pending.remove(&k) {
                    evicted = Some(finish(k, p));
                }
            }
        }
        let total = usize::from(key.total);
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            parts: vec![None; total],
            received: 0,
            first_seen: now,
            last_seen: now,
        });
        let Some(slot) = entry.parts.get_mut(usize::from(part.number) - 1) else {
            return PushOutcome::Invalid;
        };
        if slot.is_some() {
            return PushOutcome::Duplicate;
        }
        *slot = Some(part.text);
        entry.received += 1;
        entry.last_seen = entry.last_seen.max(now);
        if entry.received == total {
            if let Some(p) = self.pending.remove(&key) {
                return PushOutcome::Complete(finish(key, p));
            }
        }
        match evicted {
            Some(m) => PushOutcome::Evicted(m),
            None => PushOutcome::Pending,
        }
    }

    /// Hands back, flagged incomplete, every message that received no part for `timeout_ms` up to `now`.
    pub fn expire(&mut self, now: u64) -> Vec<ReassembledMessage> {
        let timeout = self.config.timeout_ms;
        let expired: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.last_seen) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<(u64, ReassembledMessage)> = expired
            .into_iter()
            .filter_map(|k| {
                self.pending
                    .remove(&k)
                    .map(|p| (p.first_seen, finish(k, p)))
            })
            .collect();
        out.sort_by_key(|(t, _)| *t);
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// When the next message times out (for the caller's timer), if any is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        self.pending
            .values()
            .map(|p| p.last_seen.saturating_add(self.config.timeout_ms))
            .min()
    }
}

fn finish(key: Key, p: Pending) -> ReassembledMessage {
    let mut text = String::new();
    let mut missing = Vec::new();
    for (i, part) in p.parts.into_iter().enumerate() {
        match part {
            Some(t) => text.push_str(&t),
            None => missing.push((i + 1).min(255) as u8),
        }
    }
    ReassembledMessage {
        sender: key.sender,
        reference: key.reference,
        total: key.total,
        text,
        complete: missing.is_empty(),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u8, t: &str) -> Part {
        Part {
            sender: "+1".into(),
            reference: 7,
            total: 3,
            number: n,
            text: t.into(),
        }
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        assert_eq!(r.push(part(3, "c"), 0), PushOutcome::Pending);
        assert_eq!(r.push(part(1, "a"), 1), PushOutcome::Pending);
        assert_eq!(r.push(part(1, "a"), 2), PushOutcome::Duplicate);
        let PushOutcome::Complete(m) = r.push(part(2, "b"), 3) else {
            panic!("not complete")
        };
        assert_eq!(m.text, "abc");
        assert!(m.complete);
        assert_eq!(r.pending_len(), 0);
        assert_eq!(r.push(part(4, "d"), 3), PushOutcome::Invalid);
        let single = Part {
            total: 1,
            number: 1,
            ..part(1, "solo")
        };
        let PushOutcome::Complete(m) = r.push(single, 4) else {
            panic!("a one-part message is complete")
        };
        assert_eq!((m.text.as_str(), m.complete), ("solo", true));
    }

    #[test]
    fn timeout_and_eviction() {
        let mut r = Reassembler::new(ReassemblyConfig {
            timeout_ms: 100,
            max_pending: 1,
        });
        r.push(part(2, "b"), 10);
        assert_eq!(r.next_deadline(), Some(110));
        assert!(r.expire(50).is_empty());
        let m = r.expire(110);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].text, "b");
        assert!(!m[0].complete);
        assert_eq!(m[0].missing, vec![1, 3]);
        r.push(part(1, "a"), 200);
        let other = Part {
            reference: 8,
            ..part(1, "x")
        };
        let PushOutcome::Evicted(old) = r.push(other, 201) else {
            panic!("no eviction")
        };
        assert_eq!(old.reference, 7);
        assert_eq!(old.missing, vec![2, 3]);
        assert_eq!(r.pending_len(), 1);
        // A one-part message never evicts a pending one.
        let single = Part {
            reference: 9,
            total: 1,
            number: 1,
            ..part(1, "y")
        };
        assert!(matches!(r.push(single, 202), PushOutcome::Complete(_)));
        assert_eq!(r.pending_len(), 1);
    }
}
