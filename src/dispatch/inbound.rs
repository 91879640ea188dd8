//! What comes in from a carrier: delivery receipts and MO messages, committed to the store before the link
//! answers the SMSC (the handler's future resolves only after the store returned), or before a modem is
//! told it may forget them (see [`super::modem::run_events`]).
//!
//! - Receipts: the carrier's id is normalized by its `message_id_format`, and receipts of all carriers go
//!   through one writer task that commits whatever arrived together with one `record_receipts`. A receipt
//!   that comes before its submit_sm_resp is held by the store; a duplicate is harmless.
//! - MO: concatenated parts (UDH, TS 23.040 §9.2.3.24.1, or SMPP sar_* TLVs) are reassembled; the whole
//!   message is committed with `record_mo` and only then are all its parts answered. A part waits for its
//!   siblings at most the carrier's `smpp_reassembly_timeout`; then what arrived is committed as it is.
//! - Modems: status reports (TS 23.040 §9.2.2.3) take the receipt path with the carrier message id
//!   [`super::modem::carrier_message_id`]; MO messages come reassembled by the driver and are committed as
//!   they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use smsbridge_hw::{IncomingSms, ReceiptEvent};
use smsbridge_protocol::dlr::parse_receipt;
use smsbridge_protocol::smpp::{DataCoding, EsmClass, Tlvs, Ton, tag};
use smsbridge_protocol::sms::alphabet::{Gsm7Tables, decode_ucs2};
use smsbridge_protocol::sms::{
    Part, PushOutcome, ReassembledMessage, Reassembler, ReassemblyConfig, Udh,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::MessageIdFormat;
use crate::link::smpp::{InboundHandler, InboundKind, InboundMessage, InboundPdu, Verdict};
use crate::metrics::GatewayMetrics;
use crate::model::{CarrierId, CarrierStatus, MessageState, MoMessage, UnixMs};
use crate::store::{Receipt, ReceiptMatch, Store, StoreError};

/// Most receipts committed in one request.
const MAX_RECEIPT_BATCH: usize = 512;

type ReceiptJob = (
    CarrierId,
    String,
    Receipt,
    oneshot::Sender<Result<ReceiptMatch, StoreError>>,
);

/// The writer that commits receipts of every carrier in batches.
#[derive(Clone)]
pub struct ReceiptWriter {
    tx: mpsc::Sender<ReceiptJob>,
}

impl ReceiptWriter {
    /// Starts the writer task; it ends when every clone of the writer is dropped.
    pub fn start(store: Store) -> (ReceiptWriter, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<ReceiptJob>(MAX_RECEIPT_BATCH * 2);
        let task = tokio::spawn(async move {
            let mut batch: Vec<ReceiptJob> = Vec::with_capacity(MAX_RECEIPT_BATCH);
            while let Some(first) = rx.recv().await {
                batch.clear();
                batch.push(first);
                while batch.len() < MAX_RECEIPT_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .map(|(c, id, r, reply)| ((c, id, r), reply))
                    .unzip();
                let results = store.record_receipts(items).await;
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        (ReceiptWriter { tx }, task)
    }

    async fn record(
        &self,
        carrier: CarrierId,
        id: String,
        receipt: Receipt,
    ) -> Result<ReceiptMatch, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((carrier, id, receipt, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.unwrap_or(Err(StoreError::Closed))
    }
}

/// The inbound handler of one carrier's links.
#[derive(Clone)]
pub struct CarrierInbound {
    carrier: CarrierId,
    format: MessageIdFormat,
    receipts: ReceiptWriter,
    mo: Arc<MoAssembler>,
    metrics: GatewayMetrics,
}

impl CarrierInbound {
    pub fn new(
        carrier: CarrierId,
        format: MessageIdFormat,
        receipts: ReceiptWriter,
        mo: Arc<MoAssembler>,
        metrics: GatewayMetrics,
    ) -> Self {
        CarrierInbound {
            carrier,
            format,
            receipts,
            mo,
            metrics,
        }
    }
}

impl InboundHandler for CarrierInbound {
    fn handle(&self, msg: InboundMessage) -> BoxFuture<'static, Verdict> {
        let this = self.clone();
        Box::pin(async move {
            match msg.kind {
                InboundKind::Receipt => this.receipt(msg).await,
                InboundKind::Mo => this.mo.handle(&msg).await,
            }
        })
    }
}

/// The store state a receipt state name means (names from `ReceiptState::name`).
fn receipt_state(name: Option<&str>, is_final: bool) -> MessageState {
    match name {
        Some("delivered") | Some("accepted") => MessageState::Delivered,
        Some("undeliverable") | Some("deleted") => MessageState::Undeliverable,
        Some("expired") => MessageState::Expired,
        Some("rejected") => MessageState::Rejected,
        Some("unknown") if is_final => MessageState::Unknown,
        // ENROUTE and states we cannot name: keep the status, change nothing.
        _ => MessageState::Submitted,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl CarrierInbound {
    async fn receipt(&self, msg: InboundMessage) -> Verdict {
        let Some(info) = msg.receipt.as_ref() else {
            return Verdict::Reject;
        };
        let Some(id) = info
            .message_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
        else {
            tracing::warn!(carrier = %self.carrier, "receipt without a message id: refused");
            return Verdict::Reject;
        };
        let (text, tlvs): (&[u8], &Tlvs<'_>) = match &msg.pdu {
            InboundPdu::DeliverSm(d) => (d.payload(), &d.tlvs),
            InboundPdu::DataSm(d) => (d.tlvs.message_payload().unwrap_or(&[]), &d.tlvs),
        };
        let parsed = parse_receipt(text).ok();
        let stat = parsed.as_ref().and_then(|p| p.stat).map(lossy).or_else(|| {
            tlvs.message_state().map(|m| {
                lossy(smsbridge_protocol::dlr::ReceiptState::from_message_state(m.0).stat_text())
            })
        });
        let state = receipt_state(info.state, info.is_final);
        let receipt = Receipt {
            state,
            status: CarrierStatus {
                stat,
                err: info.err.clone(),
                network_error_code: tlvs.get(tag::NETWORK_ERROR_CODE).map(<[u8]>::to_vec),
                done_date: parsed.as_ref().and_then(|p| p.done_date).map(lossy),
                raw: (!text.is_empty()).then(|| lossy(text)),
            },
            received_at: UnixMs::now(),
        };
        let key = self.format.normalize(id);
        // The message id is known once the store matched the receipt; it is recorded then. A disabled debug
        // span costs nothing (no fields are evaluated).
        let span = tracing::debug_span!(
            "receipt",
            carrier = %self.carrier,
            carrier_message_id = %key,
            message_id = tracing::field::Empty,
            segment = tracing::field::Empty,
        );
        match self
            .receipts
            .record(self.carrier.clone(), key, receipt.clone())
            .await
        {
            Ok(found) => {
                self.count_receipt(state, &found, receipt.received_at);
                if let ReceiptMatch::Matched {
                    message_id,
                    segment,
                } = &found
                {
                    span.record("message_id", tracing::field::display(message_id));
                    span.record("segment", *segment);
                }
                span.in_scope(|| {
                    tracing::debug!(
                        state = state.as_str(),
                        matched = matches!(found, ReceiptMatch::Matched { .. }),
                        "receipt committed"
                    )
                });
                Verdict::Committed
            }
            Err(err) => {
                span.in_scope(|| {
                    tracing::warn!(carrier = %self.carrier, error = %err, "receipt not committed: SMSC asked to retry")
                });
                Verdict::RetryLater
            }
        }
    }
}

impl CarrierInbound {
    /// Counts a committed receipt: final states by state, delivered ones, and the time since the message
    /// was accepted. These count receipts as they come, not state changes: a duplicate, one for a segment
    /// already final, and one that replaces UNKNOWN each count once.
    fn count_receipt(&self, state: MessageState, found: &ReceiptMatch, received_at: UnixMs) {
        let label = [self.carrier.as_str()];
        if state.is_final() {
            self.metrics
                .receipts
                .with_label_values(&[self.carrier.as_str(), state.as_str()])
                .inc();
            if state == MessageState::Delivered {
                self.metrics.delivered.with_label_values(&label).inc();
            }
        }
        if let ReceiptMatch::Matched { message_id, .. } = found {
            let ms = received_at.0.saturating_sub(message_id.time().0);
            self.metrics
                .receipt_latency
                .with_label_values(&label)
                .observe(ms.max(0) as f64 / 1000.0);
        }
    }

    /// Commits a modem's status report through the receipt writer, like an SMPP receipt. The status keeps
    /// the report as the network gave it: `stat` the SMPP code its TP-ST maps to, `err` TP-ST itself
    /// (`0x46`), `done_date` TP-DT as `YYMMDDhhmmss` (like a receipt's `done date:`), `raw` the modem, TP-MR,
    /// TP-RA and TP-ST's meaning.
    pub async fn modem_receipt(&self, r: &ReceiptEvent) -> Result<ReceiptMatch, StoreError> {
        let state = receipt_state(Some(r.state.name()), r.state.is_final());
        let receipt = Receipt {
            state,
            status: CarrierStatus {
                stat: Some(lossy(r.state.stat_text())),
                err: Some(format!("{:#04x}", r.status.0)),
                network_error_code: None,
                done_date: Some({
                    let t = &r.discharge_time;
                    format!(
                        "{:02}{:02}{:02}{:02}{:02}{:02}",
                        t.year, t.month, t.day, t.hour, t.minute, t.second
                    )
                }),
                raw: Some(format!(
                    "modem {} TP-MR {} TP-RA {} TP-ST {:#04x} ({})",
                    r.modem,
                    r.tp_mr,
                    r.recipient,
                    r.status.0,
                    r.status.description()
                )),
            },
            received_at: UnixMs::now(),
        };
        let id = super::modem::carrier_message_id(&r.modem, r.tp_mr, &r.recipient);
        match self
            .receipts
            .record(self.carrier.clone(), id, receipt.clone())
            .await
        {
            Ok(found) => {
                self.count_receipt(state, &found, receipt.received_at);
                Ok(found)
            }
            Err(err) => {
                tracing::warn!(carrier = %self.carrier, modem = %r.modem, error = %err, "status report not committed: left with the modem");
                Err(err)
            }
        }
    }

    /// Commits an MO message a modem received (the driver reassembled its parts) sent to `to`.
    pub async fn modem_mo(&self, m: IncomingSms, to: String) -> Verdict {
        if !m.complete {
            tracing::warn!(carrier = %self.carrier, modem = %m.modem, from = %m.sender, missing = ?m.missing, "concatenated MO incomplete: committed with the parts that came");
        }
        self.mo.commit(m.sender, to, m.text).await
    }
}

/// The text of an MO part: data_coding decides the alphabet (SMPP sends GSM 7-bit one septet per octet).
fn decode_text(dc: DataCoding, user_data: &[u8], tables: Gsm7Tables) -> String {
    let dc = dc.0;
    if dc == 0x08 || (dc & 0xC0 == 0x40 && dc & 0x0C == 0x08) {
        return decode_ucs2(user_data);
    }
    if dc == 0x00 || dc == 0x01 || (dc & 0xF0 == 0xF0 && dc & 0x04 == 0) {
        if dc == 0x01 {
            return lossy(user_data);
        }
        return tables.decode(user_data);
    }
    if dc == 0x03 {
        return user_data.iter().map(|&b| char::from(b)).collect();
    }
    lossy(user_data)
}

/// Reassembles concatenated MOs of one carrier and holds each part's answer until its message is committed.
pub struct MoAssembler {
    carrier: CarrierId,
    store: Store,
    metrics: GatewayMetrics,
    origin: Instant,
    state: Mutex<MoState>,
}

/// A concatenated MO by (sender, reference, total).
type PartsKey = (String, u16, u8);

/// Parts waiting for their message: the number they were sent to, and their answers.
type Waiting = (String, Vec<oneshot::Sender<Verdict>>);

struct MoState {
    reassembler: Reassembler,
    /// Parts waiting for their message to be committed, by (sender, reference, total): the number they
    /// were sent to, and their answers.
    waiters: HashMap<PartsKey, Waiting>,
}

impl MoAssembler {
    /// An assembler whose parts wait `timeout` for their siblings (after the last one came), with at most
    /// `max_pending` messages under way (a part of one more commits the one that began first).
    pub fn new(
        carrier: CarrierId,
        store: Store,
        metrics: GatewayMetrics,
        timeout: Duration,
        max_pending: usize,
    ) -> Arc<Self> {
        Arc::new(MoAssembler {
            carrier,
            store,
            metrics,
            origin: Instant::now(),
            state: Mutex::new(MoState {
                reassembler: Reassembler::new(ReassemblyConfig {
                    timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    max_pending,
                }),
                waiters: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, MoState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) async fn commit(&self, from: String, to: String, text: String) -> Verdict {
        let mo = MoMessage {
            from,
            to,
            text,
            carrier: self.carrier.clone(),
            received_at: UnixMs::now(),
            concat: None,
        };
        match self.store.record_mo(mo).await {
            Ok((message_id, cursor)) => {
                self.metrics
                    .mo
                    .with_label_values(&[self.carrier.as_str()])
                    .inc();
                tracing::debug_span!("mo", carrier = %self.carrier, %message_id)
                    .in_scope(|| tracing::debug!(cursor, "MO committed"));
                Verdict::Committed
            }
            Err(err) => {
                tracing::warn!(carrier = %self.carrier, error = %err, "MO not committed: SMSC asked to retry");
                Verdict::RetryLater
            }
        }
    }

    /// Commits a reassembled (or timed-out) message and answers every part that waited for it.
    async fn finish(&self, to: Option<String>, m: ReassembledMessage) -> Verdict {
        if !m.complete {
            tracing::warn!(carrier = %self.carrier, from = %m.sender, missing = ?m.missing, "concatenated MO incomplete: committed with the parts that came");
        }
        let (waited_to, waiters) = self
            .lock()
            .waiters
            .remove(&(m.sender.clone(), m.reference, m.total))
            .unwrap_or_default();
        let to = to.unwrap_or(waited_to);
        let verdict = self.commit(m.sender, to, m.text).await;
        for w in waiters {
            let _ = w.send(verdict);
        }
        verdict
    }

    async fn handle(&self, msg: &InboundMessage) -> Verdict {
        let (src_ton, src, dst, dc, esm, data, tlvs): (
            Ton,
            &[u8],
            &[u8],
            DataCoding,
            EsmClass,
            &[u8],
            &Tlvs<'_>,
        ) = match &msg.pdu {
            InboundPdu::DeliverSm(d) => (
                d.source_addr_ton,
                &d.source_addr,
                &d.destination_addr,
                d.data_coding,
                d.esm_class,
                d.payload(),
                &d.tlvs,
            ),
            InboundPdu::DataSm(d) => (
                d.source_addr_ton,
                &d.source_addr,
                &d.destination_addr,
                d.data_coding,
                d.esm_class,
                d.tlvs.message_payload().unwrap_or(&[]),
                &d.tlvs,
            ),
        };
        let plus = |ton: Ton, a: &[u8]| {
            let a = lossy(a);
            if ton == Ton::INTERNATIONAL && !a.starts_with('+') {
                format!("+{a}")
            } else {
                a
            }
        };
        let from = plus(src_ton, src);
        let to = lossy(dst);
        let mut user_data = data;
        let mut tables = Gsm7Tables::DEFAULT;
        let mut concat = None;
        if esm.udhi() {
            match Udh::parse(data) {
                Ok((udh, used)) => {
                    tables = udh.gsm7_tables();
                    concat = udh.concat().map(|c| (c.reference, c.parts, c.number));
                    user_data = data.get(used..).unwrap_or_default();
                }
                Err(err) => {
                    tracing::warn!(carrier = %self.carrier, error = %err, "MO with an unreadable UDH: refused");
                    return Verdict::Reject;
                }
            }
        }
        if concat.is_none()
            && let (Some(r), Some(t), Some(n)) = (
                tlvs.sar_msg_ref_num(),
                tlvs.sar_total_segments(),
                tlvs.sar_segment_seqnum(),
            )
        {
            concat = Some((r, t, n));
        }
        let text = decode_text(dc, user_data, tables);
        let Some((reference, total, number)) = concat.filter(|c| c.1 > 1) else {
            return self.commit(from, to, text).await;
        };
        let part = Part {
            sender: from.clone(),
            reference,
            total,
            number,
            text: text.clone(),
        };
        let now = self.now_ms();
        let (pushed, wait) = {
            let mut st = self.lock();
            let pushed = st.reassembler.push(part, now);
            let wait = match pushed {
                PushOutcome::Pending | PushOutcome::Duplicate | PushOutcome::Evicted(_) => {
                    let (tx, rx) = oneshot::channel();
                    st.waiters
                        .entry((from.clone(), reference, total))
                        .or_insert_with(|| (to.clone(), Vec::new()))
                        .1
                        .push(tx);
                    Some(rx)
                }
                _ => None,
            };
            (pushed, wait)
        };
        match pushed {
            PushOutcome::Complete(m) => self.finish(Some(to), m).await,
            PushOutcome::Invalid => self.commit(from, to, text).await,
            PushOutcome::Evicted(old) => {
                let _ = self.finish(None, old).await;
                Self::wait(wait).await
            }
            PushOutcome::Pending | PushOutcome::Duplicate => Self::wait(wait).await,
        }
    }

    async fn wait(rx: Option<oneshot::Receiver<Verdict>>) -> Verdict {
        match rx {
            Some(rx) => rx.await.unwrap_or(Verdict::RetryLater),
            None => Verdict::RetryLater,
        }
    }

    /// Commits timed-out messages every second; at shutdown answers the waiting parts "retry later" (the
    /// SMSC sends them again to the next session) so the links can drain.
    pub async fn run_expiry(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    let now = self.now_ms();
                    let expired = self.lock().reassembler.expire(now);
                    for m in expired {
                        let _ = self.finish(None, m).await;
                    }
                }
            }
        }
        let mut st = self.lock();
        for (_, (_, waiters)) in st.waiters.drain() {
            for w in waiters {
                let _ = w.send(Verdict::RetryLater);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    use smsbridge_protocol::smpp::DeliverSm;

    use crate::model::{EventData, EventKind};

    #[test]
    fn receipt_states_map_to_message_states() {
        let cases = [
            (Some("delivered"), true, MessageState::Delivered),
            (Some("accepted"), true, MessageState::Delivered),
            (Some("undeliverable"), true, MessageState::Undeliverable),
            (Some("deleted"), true, MessageState::Undeliverable),
            (Some("expired"), true, MessageState::Expired),
            (Some("rejected"), true, MessageState::Rejected),
            (Some("unknown"), true, MessageState::Unknown),
            (Some("enroute"), false, MessageState::Submitted),
            (Some("other"), false, MessageState::Submitted),
            (None, false, MessageState::Submitted),
        ];
        for (name, is_final, want) in cases {
            assert_eq!(receipt_state(name, is_final), want, "{name:?}");
        }
    }

    #[test]
    fn mo_text_follows_data_coding() {
        // GSM 7-bit, one septet per octet: '@' is 0x00, '£' is 0x01.
        assert_eq!(
            decode_text(
                DataCoding::DEFAULT,
                &[0x00, 0x01, b'A'],
                Gsm7Tables::DEFAULT
            ),
            "@£A"
        );
        assert_eq!(
            decode_text(
                DataCoding::UCS2,
                &[0x04, 0x36, 0x00, 0x41],
                Gsm7Tables::DEFAULT
            ),
            "жA"
        );
        assert_eq!(
            decode_text(DataCoding::LATIN1, &[0xE9], Gsm7Tables::DEFAULT),
            "é"
        );
        assert_eq!(
            decode_text(DataCoding::IA5, b"plain", Gsm7Tables::DEFAULT),
            "plain"
        );
    }

    /// Part `number` of `total` of an MO from `from`, with an 8-bit concatenation reference (TS 23.040
    /// §9.2.3.24.1) in its UDH, as an SMSC sends it.
    fn mo_part(from: &str, reference: u8, total: u8, number: u8, text: &str) -> InboundMessage {
        let mut short_message = vec![0x05, 0x00, 0x03, reference, total, number];
        short_message.extend_from_slice(text.as_bytes());
        InboundMessage {
            carrier: "c".into(),
            link: "c-0".into(),
            kind: InboundKind::Mo,
            receipt: None,
            pdu: InboundPdu::DeliverSm(DeliverSm {
                source_addr: Cow::Owned(from.as_bytes().to_vec()),
                destination_addr: Cow::Borrowed(b"4930123"),
                esm_class: EsmClass::UDHI,
                short_message: Cow::Owned(short_message),
                ..DeliverSm::default()
            }),
        }
    }

    async fn assembler(
        dir: &tempfile::TempDir,
        timeout: Duration,
        max_pending: usize,
    ) -> (Arc<MoAssembler>, Store, GatewayMetrics) {
        let store = Store::open_sqlite(dir.path().join("store.db"))
            .await
            .expect("store");
        let metrics = GatewayMetrics::new().expect("metrics");
        let mo = MoAssembler::new(
            CarrierId::new("c"),
            store.clone(),
            metrics.clone(),
            timeout,
            max_pending,
        );
        (mo, store, metrics)
    }

    /// Answers `msg` in a task of its own, as a link does (the answer waits for the commit).
    fn deliver(mo: &Arc<MoAssembler>, msg: InboundMessage) -> tokio::task::JoinHandle<Verdict> {
        let mo = Arc::clone(mo);
        tokio::spawn(async move { mo.handle(&msg).await })
    }

    async fn committed_texts(store: &Store) -> Vec<String> {
        let events = store
            .events_after(0, &[EventKind::Mo], 100)
            .await
            .expect("events");
        events
            .into_iter()
            .filter_map(|e| match e.data {
                EventData::Mo(m) => Some(m.text),
                EventData::StateChange { .. } => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_part_waits_the_configured_reassembly_timeout_then_is_committed_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 5 s instead of the default minute.
        let (mo, store, metrics) = assembler(&dir, Duration::from_secs(5), 16).await;
        let shutdown = CancellationToken::new();
        let expiry = tokio::spawn(Arc::clone(&mo).run_expiry(shutdown.clone()));
        let part = deliver(&mo, mo_part("4917600000001", 7, 2, 1, "first half "));

        // Before the timeout the part waits for its sibling, unanswered.
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        assert!(!part.is_finished());
        assert_eq!(mo.lock().reassembler.pending_len(), 1);
        assert_eq!(metrics.mo.with_label_values(&["c"]).get(), 0);

        // The expiry tick at 5 s hands it over to the store.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(mo.lock().reassembler.pending_len(), 0);
        assert_eq!(part.await.expect("part task"), Verdict::Committed);
        assert_eq!(
            committed_texts(&store).await,
            vec!["first half ".to_owned()]
        );
        assert_eq!(metrics.mo.with_label_values(&["c"]).get(), 1);

        shutdown.cancel();
        expiry.await.expect("expiry task");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_pending_cap_the_oldest_message_is_committed_with_what_came() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mo, store, metrics) = assembler(&dir, Duration::from_secs(60), 1).await;
        let first = deliver(&mo, mo_part("4917600000001", 1, 2, 1, "one "));
        let second = deliver(&mo, mo_part("4917600000002", 2, 2, 1, "two "));
        // The second message takes the only place: the first is committed as it is, and its part answered.
        assert_eq!(first.await.expect("first task"), Verdict::Committed);
        assert_eq!(committed_texts(&store).await, vec!["one ".to_owned()]);
        assert_eq!(metrics.mo.with_label_values(&["c"]).get(), 1);
        assert_eq!(mo.lock().reassembler.pending_len(), 1);
        assert!(!second.is_finished());
        second.abort();
    }
}
