//! The modem task: the device's life cycle (open, init, serve, reset sequence, reopen with backoff, SIM error
//! states) and one opening of the device ([`Link`]): commands, URCs, sends, incoming messages, status reports,
//! commits and health polls.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use smsbridge_protocol::at::{
    CmeeMode, Cnmi, Command, CommandKind, ESC, FinalResult, ListFilter, MessageFormat, Response,
    Retry,
};
use smsbridge_protocol::sms::{
    Address, Deliver, Part, PlanOptions, PushOutcome, ReassembledMessage, Reassembler,
    ReassemblyConfig, ReferenceAllocator, StatusReport, SubmitOptions, Timestamp, Ton, Tpdu,
    decode_with_sca,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::{IncomingMode, ModemConfig, ReportMode};
use crate::metrics::ModemMetrics;
use crate::port::{self, ModemIo};
use crate::session::{Answer, Session, SessionError};

use super::{
    Commit, Ctx, Identity, IncomingSms, LinkFault, LinkState, ModemEvent, OutgoingSms, ProbeReport,
    ReceiptEvent, Request, SendError, SendReceipt, SimProblem, TpduReceipt, receipt_state,
    split_imsi,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum AckTarget {
    /// Delete these SIM indexes.
    Delete(Vec<u32>),
    /// Acknowledge a routed message or report.
    Cnma,
    /// Nothing to do on the modem.
    Nothing,
}

/// A pause in the modem's output this long ends the noise drain of [`Link::wake`] early.
const NOISE_QUIET: Duration = Duration::from_millis(100);

type AckFuture = Pin<Box<dyn Future<Output = (AckTarget, bool)> + Send>>;
type PartKey = (String, u16, u8);
/// SIM indexes of the parts so far, and the first part's service centre and time stamp.
type PartsSoFar = (Vec<u32>, Option<String>, Option<Timestamp>);

/// State that outlives one opening of the device.
struct Carry {
    refs: ReferenceAllocator,
    reassembler: Reassembler,
    /// SIM indexes and first-part details of messages being reassembled.
    parts: HashMap<PartKey, PartsSoFar>,
    /// SIM indexes handed out or held for reassembly: not read again.
    seen: HashSet<u32>,
    acks: FuturesUnordered<AckFuture>,
    due: Vec<AckTarget>,
    epoch: Instant,
    rescan: bool,
    /// Committed SIM indexes whose `+CMGD` failed; tried again on health polls.
    failed_deletes: Vec<u32>,
}

impl Carry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Waits `dur`, answering requests with `err` meanwhile; `false` when the task should end.
async fn pause(
    rx: &mut mpsc::Receiver<Request>,
    dur: Duration,
    cancel: &CancellationToken,
    err: &SendError,
) -> bool {
    let until = Instant::now() + dur;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = sleep_until(until) => return true,
            req = rx.recv() => match req {
                Some(r) => r.reject(err.clone()),
                None => return false,
            },
        }
    }
}

pub(super) async fn run(ctx: Ctx, mut rx: mpsc::Receiver<Request>, cancel: CancellationToken) {
    let mut carry = Carry {
        refs: ReferenceAllocator::new(256, rand::random()),
        reassembler: Reassembler::new(ReassemblyConfig {
            timeout_ms: u64::try_from(ctx.cfg.reassembly_timeout.as_millis()).unwrap_or(u64::MAX),
            max_pending: ctx.cfg.reassembly_max_pending,
        }),
        parts: HashMap::new(),
        seen: HashSet::new(),
        acks: FuturesUnordered::new(),
        due: Vec::new(),
        epoch: Instant::now(),
        rescan: false,
        failed_deletes: Vec::new(),
    };
    let (min_backoff, max_backoff) = ctx.cfg.reopen_backoff;
    let mut backoff = min_backoff;
    let mut opened_before = false;
    'outer: while !cancel.is_cancelled() {
        ctx.set_state(LinkState::Opening);
        let (io, path) = match port::open(&ctx.cfg).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(modem = %ctx.cfg.name, error = %e, "cannot open the modem");
                ctx.set_state(LinkState::Reopening {
                    reason: e.to_string(),
                });
                let err = ctx.unavailable(e.to_string());
                if !pause(&mut rx, backoff, &cancel, &err).await {
                    break;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        if opened_before {
            ModemMetrics::inc(&ctx.metrics.reopens);
        }
        opened_before = true;
        ctx.status.send_modify(|s| s.device = Some(path.clone()));
        // A +CNMA is only valid on the connection that got the +CMT.
        carry.due.retain(|t| *t != AckTarget::Cnma);
        let mut link = Link {
            s: Session::new(io),
            ctx: &ctx,
            carry: &mut carry,
            cnma: false,
        };
        ctx.set_state(LinkState::Initializing);
        let mut fault = tokio::select! {
            _ = cancel.cancelled() => break 'outer,
            r = link.start() => r.err(),
        };
        let mut resets_in_row = 0u32;
        loop {
            match fault.take() {
                None => {
                    ctx.set_state(LinkState::Ready);
                    backoff = min_backoff;
                    match link.serve(&mut rx, &cancel).await {
                        Ok(()) => break 'outer,
                        Err(f) => {
                            resets_in_row = 0;
                            fault = Some(f);
                        }
                    }
                }
                Some(LinkFault::Unresponsive(why)) if resets_in_row < 2 => {
                    tracing::warn!(modem = %ctx.cfg.name, %why, "modem silent: reset sequence");
                    resets_in_row += 1;
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ModemMetrics::inc(&ctx.metrics.resets);
                    ctx.set_state(LinkState::Resetting);
                    fault = tokio::select! {
                        _ = cancel.cancelled() => break 'outer,
                        r = link.recover() => r.err(),
                    };
                }
                Some(LinkFault::Sim(problem)) => {
                    tracing::error!(modem = %ctx.cfg.name, %problem, "SIM unusable");
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ctx.set_state(LinkState::SimError(problem.clone()));
                    drop(link);
                    let err = ctx.unavailable(problem.to_string());
                    if !pause(&mut rx, ctx.cfg.sim_error_recheck, &cancel, &err).await {
                        break 'outer;
                    }
                    continue 'outer;
                }
                Some(other) => {
                    tracing::warn!(modem = %ctx.cfg.name, fault = %other, "reopening the device");
                    ModemMetrics::inc(&ctx.metrics.errors);
                    ctx.set_state(LinkState::Reopening {
                        reason: other.to_string(),
                    });
                    drop(link);
                    let err = ctx.unavailable(other.to_string());
                    if !pause(&mut rx, backoff, &cancel, &err).await {
                        break 'outer;
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue 'outer;
                }
            }
        }
    }
    ctx.set_state(LinkState::Stopped);
}

/// One opening of the device.
struct Link<'a> {
    s: Session<Box<dyn ModemIo>>,
    ctx: &'a Ctx,
    carry: &'a mut Carry,
    /// `+CSMS=1` is in force: routed messages and reports need `+CNMA`.
    cnma: bool,
}

enum Wake {
    Cancel,
    Read(Result<(), SessionError>),
    Ack(Option<(AckTarget, bool)>),
    Req(Option<Request>),
    Health,
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

impl Link<'_> {
    fn cfg(&self) -> &ModemConfig {
        &self.ctx.cfg
    }

    /// Runs a command; a timeout or a lost device is a fault, any final result code is an answer.
    async fn cmd(&mut self, c: &Command) -> Result<Answer, LinkFault> {
        let t = self.cfg().timeout(c.kind());
        let r = self.s.command(c, t).await;
        if let Err(e) = &r {
            tracing::debug!(modem = %self.ctx.cfg.name, command = c.line(), error = %e, "command failed");
        }
        Ok(r?)
    }

    /// Wakes the modem: leaves a stuck prompt, drops noise, and waits for `AT` to answer.
    async fn wake(&mut self) -> Result<(), LinkFault> {
        self.s.write_raw(&[ESC]).await?;
        self.s.settle(NOISE_QUIET, self.cfg().noise_drain).await?;
        let t = self.cfg().probe_timeout;
        let mut last = String::new();
        for _ in 0..self.cfg().probe_attempts.max(1) {
            match self.s.command(&Command::at(), t).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_device_lost() => return Err(e.into()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(LinkFault::Unresponsive(last))
    }

    /// Init, identity, health, and the messages already on the SIM.
    async fn start(&mut self) -> Result<(), LinkFault> {
        self.wake().await?;
        self.init().await?;
        self.identity().await?;
        self.health().await?;
        self.list_stored().await?;
        self.run_due().await?;
        Ok(())
    }

    /// The reset sequence for a modem that stopped answering: wake it, `ATZ`, init again.
    async fn recover(&mut self) -> Result<(), LinkFault> {
        if self.wake().await.is_err() {
            // Last try before giving up on this opening: a profile reset.
            let t = self.cfg().timeout(CommandKind::Reset);
            let _ = self.s.command(&Command::reset(), t).await?;
        }
        self.start().await
    }

    async fn init(&mut self) -> Result<(), LinkFault> {
        // Some modems refuse ATZ or ATE0 in some states; the parser copes with echo either way.
        let _ = self.cmd(&Command::reset()).await?;
        let _ = self.cmd(&Command::echo(false)).await?;
        // Not every modem knows +CMEE; errors then stay plain.
        self.cmd(&Command::cmee(CmeeMode::Numeric)).await?;
        self.unlock_sim().await?;
        self.sms_setup().await
    }

    async fn sms_setup(&mut self) -> Result<(), LinkFault> {
        // SIM busy can still come after the PIN: retry the first SMS command a few times.
        let mut tries = 0;
        loop {
            let a = self.cmd(&Command::cmgf(MessageFormat::Pdu)).await?;
            if a.is_ok() {
                break;
            }
            tries += 1;
            if tries > self.cfg().sim_busy_retries || a.result.retry() == Some(Retry::Permanent) {
                return Err(LinkFault::Refused {
                    command: "AT+CMGF=0".into(),
                    result: format!("{:?}", a.result),
                });
            }
            sleep(self.cfg().sim_busy_delay).await;
        }
        let routed_mt = self.cfg().incoming == IncomingMode::Routed;
        let routed_ds = self.cfg().reports == ReportMode::Routed;
        self.cnma = false;
        if routed_mt {
            let a = self.cmd(&Command::csms(1)).await?;
            self.cnma = a.is_ok();
        } else {
            let _ = self.cmd(&Command::csms(0)).await?;
        }
        if let Ok(c) = Command::cpms("SM", Some("SM"), Some("SM")) {
            let _ = self.cmd(&c).await?;
        }
        let cnmi = Cnmi {
            mode: 2,
            mt: if routed_mt { 2 } else { 1 },
            bm: 0,
            ds: if routed_ds { 1 } else { 2 },
            bfr: 0,
        };
        let a = self.cmd(&Command::cnmi(cnmi)).await?;
        if !a.is_ok() {
            // Some modems only know <mode> 1.
            let a = self.cmd(&Command::cnmi(Cnmi { mode: 1, ..cnmi })).await?;
            if !a.is_ok() {
                tracing::warn!(modem = %self.ctx.cfg.name, "+CNMI refused: incoming messages are found by polling only");
                self.carry.rescan = true;
            }
        }
        Ok(())
    }

    async fn unlock_sim(&mut self) -> Result<(), LinkFault> {
        let mut pin_sent = false;
        for _ in 0..=self.cfg().sim_busy_retries {
            let a = self.cmd(&Command::cpin_query()).await?;
            let code = a.info.iter().find_map(|r| match r {
                Response::Cpin { code } => Some(code.to_ascii_uppercase()),
                _ => None,
            });
            match (&a.result, code.as_deref()) {
                (FinalResult::Ok, Some("READY")) => return Ok(()),
                (FinalResult::Ok, Some("SIM PIN")) => {
                    if pin_sent {
                        // Asked again after a PIN that was taken: the SIM is still settling.
                        sleep(self.cfg().sim_busy_delay).await;
                        continue;
                    }
                    let Some(pin) = self.cfg().pin.clone() else {
                        return Err(LinkFault::Sim(SimProblem::PinRequired));
                    };
                    let c = Command::cpin_enter(&pin)
                        .map_err(|e| LinkFault::Sim(SimProblem::Other(e.to_string())))?;
                    let r = self.cmd(&c).await?;
                    match &r.result {
                        FinalResult::Ok => pin_sent = true,
                        FinalResult::CmeError(e) if e.code == Some(16) => {
                            return Err(LinkFault::Sim(SimProblem::WrongPin));
                        }
                        FinalResult::CmeError(e) if e.code == Some(12) => {
                            return Err(LinkFault::Sim(SimProblem::PukRequired));
                        }
                        other if other.retry() == Some(Retry::Permanent) => {
                            return Err(LinkFault::Sim(SimProblem::WrongPin));
                        }
                        _ => sleep(self.cfg().sim_busy_delay).await,
                    }
                }
                (FinalResult::Ok, Some("SIM PUK")) => {
                    return Err(LinkFault::Sim(SimProblem::PukRequired));
                }
                (FinalResult::Ok, Some(other)) => {
                    return Err(LinkFault::Sim(SimProblem::Other(other.to_owned())));
                }
                (FinalResult::Ok, None) => sleep(self.cfg().sim_busy_delay).await,
                (FinalResult::CmeError(e), _) => match e.code {
                    Some(10) => return Err(LinkFault::Sim(SimProblem::NotInserted)),
                    Some(11) if self.cfg().pin.is_none() => {
                        return Err(LinkFault::Sim(SimProblem::PinRequired));
                    }
                    Some(12) => return Err(LinkFault::Sim(SimProblem::PukRequired)),
                    Some(13 | 15) => {
                        return Err(LinkFault::Sim(SimProblem::Other(format!(
                            "+CME ERROR: {:?}",
                            e.code
                        ))));
                    }
                    _ => sleep(self.cfg().sim_busy_delay).await,
                },
                _ => sleep(self.cfg().sim_busy_delay).await,
            }
        }
        Err(LinkFault::Sim(SimProblem::Busy))
    }

    async fn identity(&mut self) -> Result<(), LinkFault> {
        let mut id = Identity::default();
        for c in [Command::cgsn(), Command::cimi(), Command::ccid()] {
            let a = self.cmd(&c).await?;
            for r in a.info {
                match r {
                    Response::Cgsn { sn } => id.imei = Some(sn),
                    Response::Cimi { imsi } => id.imsi = Some(imsi),
                    Response::Ccid { iccid } => id.iccid = Some(iccid),
                    _ => {}
                }
            }
        }
        if let Some((mcc, mnc)) = id
            .imsi
            .as_deref()
            .and_then(|i| split_imsi(i, self.cfg().mnc_digits))
        {
            id.mcc = Some(mcc);
            id.mnc = Some(mnc);
        }
        self.ctx.status.send_modify(|s| s.identity = id);
        Ok(())
    }

    async fn health(
        &mut self,
    ) -> Result<(Option<(u8, u8)>, Option<u8>, Option<String>), LinkFault> {
        let mut signal = None;
        let mut reg = None;
        let mut oper = None;
        for r in self.cmd(&Command::csq()).await?.info {
            if let Response::Csq { rssi, ber } = r {
                signal = Some((rssi, ber));
            }
        }
        for r in self.cmd(&Command::creg_query()).await?.info {
            if let Response::Creg { stat, .. } = r {
                reg = Some(stat);
            }
        }
        for r in self.cmd(&Command::cops_query()).await?.info {
            if let Response::Cops { oper: o, .. } = r {
                oper = o;
            }
        }
        let m = &self.ctx.metrics;
        m.rssi.store(
            signal.map_or(99, |(r, _)| i64::from(r)),
            std::sync::atomic::Ordering::Relaxed,
        );
        m.registration.store(
            reg.map_or(-1, i64::from),
            std::sync::atomic::Ordering::Relaxed,
        );
        let operator = oper.clone();
        self.ctx.status.send_modify(|s| {
            s.rssi = signal.map(|(r, _)| r);
            s.registration = reg;
            s.operator = operator;
        });
        Ok((signal, reg, oper))
    }

    async fn probe(&mut self) -> Result<ProbeReport, LinkFault> {
        let a = self.cmd(&Command::cpin_query()).await?;
        let sim = a
            .info
            .iter()
            .find_map(|r| match r {
                Response::Cpin { code } => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| format!("{:?}", a.result));
        let (signal, registration, operator) = self.health().await?;
        let smsc = self
            .cmd(&Command::csca_query())
            .await?
            .info
            .into_iter()
            .find_map(|r| match r {
                Response::Csca { sca, .. } => Some(sca),
                _ => None,
            });
        let st = self.ctx.status.borrow().clone();
        Ok(ProbeReport {
            device: st.device,
            identity: st.identity,
            sim,
            signal,
            registration,
            operator,
            smsc,
        })
    }

    /// Reads every received message and status report on the SIM (TS 27.005 §3.4.2 `+CMGL=4`).
    async fn list_stored(&mut self) -> Result<(), LinkFault> {
        self.carry.rescan = false;
        let a = self.cmd(&Command::cmgl_pdu(ListFilter::All)).await?;
        if !a.is_ok() {
            tracing::warn!(modem = %self.ctx.cfg.name, result = ?a.result, "+CMGL failed");
            self.carry.rescan = true;
            return Ok(());
        }
        for r in a.info {
            if let Response::CmglPdu {
                index,
                stat,
                pdu: Some(pdu),
                ..
            } = r
                && stat <= 1
                && !self.carry.seen.contains(&index)
            {
                self.stored_pdu(index, &pdu);
            }
        }
        Ok(())
    }

    /// Reads one stored message or report (`+CMTI` / `+CDSI`).
    async fn read_index(&mut self, index: u32) -> Result<(), LinkFault> {
        if self.carry.seen.contains(&index) {
            return Ok(());
        }
        let a = self.cmd(&Command::cmgr(index)).await?;
        let pdu = a.info.into_iter().find_map(|r| match r {
            Response::CmgrPdu { pdu: Some(p), .. } => Some(p),
            _ => None,
        });
        match pdu {
            Some(p) => self.stored_pdu(index, &p),
            None => {
                tracing::warn!(modem = %self.ctx.cfg.name, index, result = ?a.result, "+CMGR gave no PDU");
                self.carry.rescan = true;
            }
        }
        Ok(())
    }

    fn stored_pdu(&mut self, index: u32, pdu: &str) {
        let decoded = hex_decode(pdu).and_then(|b| decode_with_sca(&b).ok());
        self.carry.seen.insert(index);
        match decoded {
            Some((sca, Tpdu::Deliver(d))) => self.incoming(Some(index), sca.as_ref(), d),
            Some((_, Tpdu::StatusReport(r))) => {
                self.report(r, AckTarget::Delete(vec![index]));
            }
            Some((_, Tpdu::Submit(_))) => {}
            None => {
                // Kept on the SIM for a person to look at; never handed out, never read again.
                tracing::error!(modem = %self.ctx.cfg.name, index, pdu, "stored PDU does not decode");
                ModemMetrics::inc(&self.ctx.metrics.errors);
            }
        }
    }

    fn routed_target(&self) -> AckTarget {
        if self.cnma {
            AckTarget::Cnma
        } else {
            AckTarget::Nothing
        }
    }

    fn incoming(&mut self, index: Option<u32>, sca: Option<&Address>, d: Deliver) {
        let smsc = sca.map(Address::display);
        let target = |idx: Vec<u32>, this: &Self| {
            if index.is_some() {
                AckTarget::Delete(idx)
            } else {
                this.routed_target()
            }
        };
        let Some(part) = Part::from_deliver(&d) else {
            let message = IncomingSms {
                modem: self.ctx.cfg.name.clone(),
                sender: d.tp_oa.display(),
                text: d.text().unwrap_or_default(),
                smsc,
                timestamp: Some(d.tp_scts),
                parts: 1,
                reference: None,
                complete: true,
                missing: Vec::new(),
            };
            let t = target(index.into_iter().collect(), self);
            self.emit_incoming(message, t);
            return;
        };
        if index.is_none() && self.cnma {
            // A routed part is not stored anywhere; acknowledge it now (use stored mode for durability).
            self.carry.due.push(AckTarget::Cnma);
        }
        let key = (part.sender.clone(), part.reference, part.total);
        let entry = self
            .carry
            .parts
            .entry(key.clone())
            .or_insert_with(|| (Vec::new(), smsc.clone(), Some(d.tp_scts)));
        entry.0.extend(index);
        let now = self.carry.now_ms();
        match self.carry.reassembler.push(part, now) {
            PushOutcome::Complete(m) | PushOutcome::Evicted(m) => self.reassembled(m),
            PushOutcome::Pending | PushOutcome::Duplicate => {}
            PushOutcome::Invalid => {
                let (idx, _, _) = self.carry.parts.remove(&key).unwrap_or_default();
                let message = IncomingSms {
                    modem: self.ctx.cfg.name.clone(),
                    sender: d.tp_oa.display(),
                    text: d.text().unwrap_or_default(),
                    smsc,
                    timestamp: Some(d.tp_scts),
                    parts: 1,
                    reference: None,
                    complete: true,
                    missing: Vec::new(),
                };
                let t = if index.is_some() {
                    AckTarget::Delete(idx)
                } else {
                    AckTarget::Nothing
                };
                self.emit_incoming(message, t);
            }
        }
    }

    fn reassembled(&mut self, m: ReassembledMessage) {
        let key = (m.sender.clone(), m.reference, m.total);
        let (idx, smsc, ts) = self.carry.parts.remove(&key).unwrap_or_default();
        let message = IncomingSms {
            modem: self.ctx.cfg.name.clone(),
            sender: m.sender,
            text: m.text,
            smsc,
            timestamp: ts,
            parts: m.total,
            reference: Some(m.reference),
            complete: m.complete,
            missing: m.missing,
        };
        let t = if idx.is_empty() {
            AckTarget::Nothing
        } else {
            AckTarget::Delete(idx)
        };
        self.emit_incoming(message, t);
    }

    fn emit_incoming(&mut self, message: IncomingSms, target: AckTarget) {
        let (tx, rx) = oneshot::channel();
        let ev = ModemEvent::Incoming {
            message,
            commit: Commit(tx),
        };
        if self.emit(ev, target.clone(), rx) {
            ModemMetrics::inc(&self.ctx.metrics.received);
        }
    }

    fn report(&mut self, r: StatusReport, target: AckTarget) {
        let receipt = ReceiptEvent {
            modem: self.ctx.cfg.name.clone(),
            tp_mr: r.tp_mr,
            recipient: r.tp_ra.display(),
            status: r.tp_st,
            state: receipt_state(r.tp_st),
            discharge_time: r.tp_dt,
        };
        let (tx, rx) = oneshot::channel();
        let ev = ModemEvent::Receipt {
            receipt,
            commit: Commit(tx),
        };
        if self.emit(ev, target, rx) {
            ModemMetrics::inc(&self.ctx.metrics.reports);
        }
    }

    /// Hands an event to the gateway; the SIM copy stays until the commit is confirmed. `false` when the
    /// gateway's queue is full or gone: the message stays on the SIM and is read again later.
    fn emit(&mut self, ev: ModemEvent, target: AckTarget, rx: oneshot::Receiver<()>) -> bool {
        match self.ctx.events.try_send(ev) {
            Ok(()) => {
                self.carry
                    .acks
                    .push(Box::pin(async move { (target, rx.await.is_ok()) }));
                true
            }
            Err(e) => {
                tracing::warn!(modem = %self.ctx.cfg.name, error = %e, "event queue full: left on the SIM");
                if let AckTarget::Delete(idx) = &target {
                    for i in idx {
                        self.carry.seen.remove(i);
                    }
                }
                self.carry.rescan = true;
                false
            }
        }
    }

    /// Deletes (or acknowledges) what the gateway committed.
    async fn run_due(&mut self) -> Result<(), LinkFault> {
        let due = std::mem::take(&mut self.carry.due);
        for t in due {
            match t {
                AckTarget::Delete(idx) => {
                    for i in idx {
                        let a = self.cmd(&Command::cmgd(i, None)).await?;
                        if a.is_ok() {
                            self.carry.seen.remove(&i);
                        } else {
                            // Still committed: not handed out again, deleted on a later health poll.
                            tracing::warn!(modem = %self.ctx.cfg.name, index = i, result = ?a.result, "+CMGD failed");
                            self.carry.failed_deletes.push(i);
                        }
                    }
                }
                AckTarget::Cnma => {
                    let _ = self.cmd(&Command::cnma()).await?;
                }
                AckTarget::Nothing => {}
            }
        }
        Ok(())
    }

    async fn handle_urcs(&mut self) -> Result<(), LinkFault> {
        // Bounded: each round handles what was queued; new URCs wait for the next round.
        for r in self.s.take_urcs() {
            match r {
                Response::Cmti { index, .. } | Response::Cdsi { index, .. } => {
                    self.read_index(index).await?;
                }
                Response::CmtPdu { pdu: Some(p), .. } => {
                    match hex_decode(&p).and_then(|b| decode_with_sca(&b).ok()) {
                        Some((sca, Tpdu::Deliver(d))) => self.incoming(None, sca.as_ref(), d),
                        _ => {
                            tracing::error!(modem = %self.ctx.cfg.name, pdu = p, "+CMT PDU does not decode");
                            ModemMetrics::inc(&self.ctx.metrics.errors);
                            if self.cnma {
                                self.carry.due.push(AckTarget::Cnma);
                            }
                        }
                    }
                }
                Response::CdsPdu { pdu: Some(p), .. } => {
                    match hex_decode(&p).and_then(|b| decode_with_sca(&b).ok()) {
                        Some((_, Tpdu::StatusReport(rep))) => {
                            let t = self.routed_target();
                            self.report(rep, t);
                        }
                        _ => {
                            tracing::error!(modem = %self.ctx.cfg.name, pdu = p, "+CDS PDU does not decode");
                            ModemMetrics::inc(&self.ctx.metrics.errors);
                        }
                    }
                }
                Response::Creg { stat, .. } => {
                    self.ctx
                        .metrics
                        .registration
                        .store(i64::from(stat), std::sync::atomic::Ordering::Relaxed);
                    self.ctx.status.send_modify(|s| s.registration = Some(stat));
                }
                other => tracing::debug!(modem = %self.ctx.cfg.name, urc = ?other, "URC ignored"),
            }
        }
        Ok(())
    }

    fn expire_parts(&mut self) {
        let now = self.carry.now_ms();
        for m in self.carry.reassembler.expire(now) {
            self.reassembled(m);
        }
    }

    /// The service-centre address octets in front of every TPDU: the configured one, or `None` (the SIM's).
    fn sca(&self) -> Result<Option<Vec<u8>>, SendError> {
        let Some(smsc) = self.cfg().smsc.as_deref() else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(12);
        Address::encode_sca(Some(&Address::parse(smsc)), &mut out)
            .map_err(|e| SendError::Encode(format!("smsc {smsc:?}: {e}")))?;
        Ok(Some(out))
    }

    /// Sends one SMS-SUBMIT TPDU with `+CMGS`, retrying transient errors; returns its TP-MR and the retries.
    /// `segment` and `sent` (the TP-MRs of the segments before) only go into errors.
    async fn send_segment(
        &mut self,
        segment: usize,
        tpdu: &[u8],
        sca: Option<&[u8]>,
        sent: &[u8],
    ) -> Result<(u8, u32), SendError> {
        let pdu = Command::cmgs_pdu(sca, tpdu).map_err(|e| SendError::Encode(e.to_string()))?;
        let send_timeout = self.cfg().timeout(CommandKind::SmsSend);
        let prompt_timeout = self.cfg().prompt_timeout;
        let mut attempt = 0u32;
        loop {
            match self.s.send_pdu(&pdu, prompt_timeout, send_timeout).await {
                Ok(a) if a.is_ok() => {
                    let mr = a.info.iter().find_map(|r| match r {
                        Response::Cmgs { mr, .. } => Some(*mr),
                        _ => None,
                    });
                    return match mr {
                        Some(mr) => {
                            ModemMetrics::inc(&self.ctx.metrics.segments);
                            Ok((mr, attempt))
                        }
                        None => Err(SendError::NoReference {
                            segment,
                            sent: sent.to_vec(),
                        }),
                    };
                }
                Ok(a) => {
                    let retry = a.result.retry().unwrap_or(Retry::Transient);
                    if retry == Retry::Transient && attempt < self.cfg().send_retries {
                        attempt += 1;
                        ModemMetrics::inc(&self.ctx.metrics.send_retries);
                        tracing::info!(modem = %self.ctx.cfg.name, segment, result = ?a.result, "transient send error: retrying");
                        sleep(self.cfg().send_retry_delay).await;
                        continue;
                    }
                    return Err(SendError::Rejected {
                        segment,
                        result: a.result,
                        permanent: retry == Retry::Permanent,
                        sent: sent.to_vec(),
                    });
                }
                Err(e) => {
                    let maybe_sent = matches!(
                        e,
                        SessionError::Timeout {
                            body_written: true,
                            ..
                        }
                    );
                    return Err(SendError::Link {
                        segment,
                        sent: sent.to_vec(),
                        maybe_sent,
                        fault: e.into(),
                    });
                }
            }
        }
    }

    async fn send(&mut self, msg: &OutgoingSms) -> Result<SendReceipt, SendError> {
        let dest = Address::parse(&msg.to);
        if dest.ton == Ton::Alphanumeric {
            return Err(SendError::BadNumber(msg.to.clone()));
        }
        let recipient = dest.display();
        let plan = self
            .carry
            .refs
            .plan(&recipient, &msg.text, &PlanOptions::default())
            .map_err(|e| SendError::Encode(e.to_string()))?;
        let submits = plan.submits(
            &dest,
            &SubmitOptions {
                status_report: msg.want_report,
                ..SubmitOptions::default()
            },
        );
        let sca = self.sca()?;
        let mut mrs = Vec::with_capacity(submits.len());
        let mut retries = 0u32;
        for (segment, submit) in submits.into_iter().enumerate() {
            let tpdu = Tpdu::Submit(submit)
                .encode()
                .map_err(|e| SendError::Encode(e.to_string()))?;
            let (mr, r) = self
                .send_segment(segment, &tpdu, sca.as_deref(), &mrs)
                .await?;
            mrs.push(mr);
            retries += r;
        }
        Ok(SendReceipt {
            modem: self.ctx.cfg.name.clone(),
            recipient,
            tp_mrs: mrs,
            retries,
        })
    }

    /// Sends one ready-made SMS-SUBMIT TPDU (the caller planned, segmented and encoded it).
    async fn send_tpdu(&mut self, tpdu: &[u8]) -> Result<TpduReceipt, SendError> {
        let submit = match Tpdu::decode(tpdu) {
            Ok(Tpdu::Submit(s)) => s,
            Ok(other) => {
                return Err(SendError::Encode(format!(
                    "{} given where an SMS-SUBMIT was expected",
                    other.type_name()
                )));
            }
            Err(e) => return Err(SendError::Encode(format!("the TPDU does not decode: {e}"))),
        };
        if submit.tp_da.ton == Ton::Alphanumeric {
            return Err(SendError::BadNumber(submit.tp_da.display()));
        }
        let sca = self.sca()?;
        let (tp_mr, retries) = self.send_segment(0, tpdu, sca.as_deref(), &[]).await?;
        Ok(TpduReceipt {
            modem: self.ctx.cfg.name.clone(),
            recipient: submit.tp_da.display(),
            tp_mr,
            retries,
        })
    }

    /// Counts a finished send; the link fault that ends this opening of the device, if any.
    fn sent<T>(&self, r: &Result<T, SendError>) -> Option<LinkFault> {
        match r {
            Ok(_) => {
                ModemMetrics::inc(&self.ctx.metrics.sends);
                None
            }
            Err(SendError::Link { fault, .. }) => {
                ModemMetrics::inc(&self.ctx.metrics.send_errors);
                Some(fault.clone())
            }
            Err(_) => {
                ModemMetrics::inc(&self.ctx.metrics.send_errors);
                None
            }
        }
    }

    /// Serves requests, URCs, commits and health polls until cancelled (`Ok`) or the link fails.
    async fn serve(
        &mut self,
        rx: &mut mpsc::Receiver<Request>,
        cancel: &CancellationToken,
    ) -> Result<(), LinkFault> {
        let interval = self.cfg().health_interval;
        let mut next_health = Instant::now() + interval;
        loop {
            self.handle_urcs().await?;
            self.run_due().await?;
            let wake = {
                let s = &mut self.s;
                let acks = &mut self.carry.acks;
                let has_acks = !acks.is_empty();
                // Unbiased: a modem that floods the line does not starve requests and commits.
                tokio::select! {
                    _ = cancel.cancelled() => Wake::Cancel,
                    r = s.fill() => Wake::Read(r),
                    a = acks.next(), if has_acks => Wake::Ack(a),
                    req = rx.recv() => Wake::Req(req),
                    _ = sleep_until(next_health) => Wake::Health,
                }
            };
            match wake {
                Wake::Cancel | Wake::Req(None) => return Ok(()),
                Wake::Read(r) => r?,
                Wake::Ack(Some((target, confirmed))) => {
                    if confirmed {
                        self.carry.due.push(target);
                    } else if let AckTarget::Delete(idx) = target {
                        for i in idx {
                            self.carry.seen.remove(&i);
                        }
                        self.carry.rescan = true;
                    }
                }
                Wake::Ack(None) => {}
                Wake::Req(Some(Request::Send { msg, reply })) => {
                    let r = self.send(&msg).await;
                    let fault = self.sent(&r);
                    let _ = reply.send(r);
                    if let Some(f) = fault {
                        return Err(f);
                    }
                }
                Wake::Req(Some(Request::SendTpdu { tpdu, reply })) => {
                    let r = self.send_tpdu(&tpdu).await;
                    let fault = self.sent(&r);
                    let _ = reply.send(r);
                    if let Some(f) = fault {
                        return Err(f);
                    }
                }
                Wake::Req(Some(Request::Probe { reply })) => match self.probe().await {
                    Ok(p) => {
                        let _ = reply.send(Ok(p));
                    }
                    Err(f) => {
                        let _ = reply.send(Err(self.ctx.unavailable(f.to_string())));
                        return Err(f);
                    }
                },
                Wake::Health => {
                    next_health = Instant::now() + interval;
                    self.health().await?;
                    self.expire_parts();
                    if !self.carry.failed_deletes.is_empty() {
                        let idx = std::mem::take(&mut self.carry.failed_deletes);
                        self.carry.due.push(AckTarget::Delete(idx));
                    }
                    if self.carry.rescan {
                        self.list_stored().await?;
                    }
                }
            }
        }
    }
}
