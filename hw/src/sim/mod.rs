//! The modem simulator: a GSM modem speaking the AT dialect of TS 27.007 / TS 27.005 (PDU mode) over a real
//! pseudo-terminal, with a SIM message store, status reports after a delay, incoming messages injected on
//! demand, and scriptable faults (slow answers, `ERROR`, `+CMS ERROR`, garbage, silence, SIM PIN, no network,
//! unplug and replug). Tests and demos drive it through a [`SimHandle`].

mod pty;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use smsbridge_protocol::at::errors::cme_meaning;
use smsbridge_protocol::sms::{
    Address, ConcatInfo, Deliver, Pid, PlanOptions, ReferenceAllocator, Status, StatusReport,
    Submit, Timestamp, Ton, Tpdu, decode_with_sca, encode_with_sca,
};
use tokio::sync::{mpsc, oneshot};

pub use pty::Pty;

/// What the simulated modem is and how it starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `AT+CGSN`.
    pub imei: String,
    /// `AT+CIMI`: MCC 3 digits, MNC, MSIN.
    pub imsi: String,
    /// `AT+CCID`.
    pub iccid: String,
    /// `AT+COPS?` long name.
    pub operator: String,
    /// `AT+CSCA?`, and the SCA in front of stored PDUs.
    pub smsc: String,
    /// When set, the SIM starts locked with this PIN (`+CPIN: SIM PIN`).
    pub pin: Option<String>,
    /// Whether a SIM is inserted.
    pub sim_present: bool,
    /// Message slots on the SIM (`+CPMS` total).
    pub capacity: u32,
    /// How long after `+CMGS` (with TP-SRR) the status report comes.
    pub report_delay: Duration,
    /// TP-ST of status reports (0 = received by the SME).
    pub report_status: u8,
    /// `+CREG` `<stat>` at start (1 = registered, home network).
    pub registration: u8,
    /// `+CSQ` `<rssi>`.
    pub rssi: u8,
    /// A symbolic link kept pointing at the current pseudo-terminal, like `/dev/serial/by-id/...`.
    pub link: Option<PathBuf>,
    /// Write URCs that arrive while a command is answered between its information lines and its final
    /// result code (some modems do; clients must cope).
    pub urcs_inside_responses: bool,
    /// How status reports name the recipient.
    pub report_recipient: ReportRecipient,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            imei: "356938035643809".into(),
            imsi: "240080123456789".into(),
            iccid: "89460800001234567890".into(),
            operator: "SIMNET".into(),
            smsc: "+46708251600".into(),
            pin: None,
            sim_present: true,
            capacity: 30,
            report_delay: Duration::from_millis(300),
            report_status: 0,
            registration: 1,
            rssi: 21,
            link: None,
            urcs_inside_responses: false,
            report_recipient: ReportRecipient::AsSent,
        }
    }
}

/// How a status report names the recipient (TP-RA). Networks do not always give it back as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReportRecipient {
    /// TP-RA is the TP-DA of the submit.
    #[default]
    AsSent,
    /// The same digits with type of number "unknown" (`4915112345678` for `+4915112345678`).
    UnknownType,
    /// A national number: an international TP-DA that starts with this country code gets a trunk `0`
    /// instead (`015112345678` for `+4915112345678` with `"49"`).
    National {
        /// The country code the network is in.
        country_code: String,
    },
}

impl ReportRecipient {
    fn apply(&self, to: &Address) -> Address {
        let mut ra = to.clone();
        match self {
            ReportRecipient::AsSent => {}
            ReportRecipient::UnknownType => {
                if ra.ton == Ton::International {
                    ra.ton = Ton::Unknown;
                }
            }
            ReportRecipient::National { country_code } => {
                if ra.ton == Ton::International
                    && let Some(rest) = ra.number.strip_prefix(country_code.as_str())
                {
                    ra.number = format!("0{rest}");
                    ra.ton = Ton::National;
                }
            }
        }
        ra
    }
}

/// Why the simulator could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Opening the pseudo-terminal or the link failed.
    #[error("pseudo-terminal: {0}")]
    Io(#[from] std::io::Error),
    /// The text could not be planned into SMS-DELIVER TPDUs.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SIM store is full.
    #[error("SIM message store is full ({0} slots)")]
    StoreFull(u32),
}

/// One SMS-SUBMIT the simulator accepted.
#[derive(Debug, Clone)]
pub struct SentSms {
    /// TP-MR the simulator answered with (`+CMGS: <mr>`).
    pub tp_mr: u8,
    /// The destination as displayed (`+4670...`).
    pub to: String,
    /// The decoded TPDU.
    pub submit: Submit,
    /// The text of this segment, when it decodes.
    pub text: Option<String>,
    /// Concatenation header, for a part of a longer message.
    pub concat: Option<ConcatInfo>,
    /// The service-centre address in front of the TPDU (`None`: empty, the SIM's).
    pub smsc: Option<String>,
    /// When the simulator accepted it.
    pub at: tokio::time::Instant,
}

/// One message in the SIM store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSms {
    /// `<index>`.
    pub index: u32,
    /// `<stat>`: 0 unread, 1 read, 2 unsent, 3 sent.
    pub stat: u8,
    /// SCA + TPDU.
    pub pdu: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimLock {
    Ready,
    Pin,
    Puk,
    Missing,
}

#[derive(Debug)]
struct State {
    cfg: SimConfig,
    echo: bool,
    cmee: u8,
    cmgf: u8,
    csms: u8,
    cnmi: [u8; 5],
    creg_n: u8,
    cops_format: u8,
    sim: SimLock,
    pin_attempts: u8,
    busy_left: u32,
    store: BTreeMap<u32, StoredSms>,
    next_mr: u8,
    sent: Vec<SentSms>,
    commands: Vec<String>,
    delay: Duration,
    /// Added to `delay` before the answer to a message body (`+CMGS: <mr>`).
    send_delay: Duration,
    error_next: u32,
    cms_next: VecDeque<u16>,
    silent_next: u32,
    registration: u8,
    cnma_expected: u32,
    refs: ReferenceAllocator,
    plugs: u32,
    last_report: tokio::time::Instant,
}

/// The least time between two status reports.
const REPORT_SPACING: Duration = Duration::from_millis(250);

#[derive(Debug)]
enum Ctl {
    Write(Vec<u8>),
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ctl: Mutex<Option<mpsc::UnboundedSender<Ctl>>>,
    unplug: Mutex<Option<oneshot::Sender<()>>>,
    path: Mutex<PathBuf>,
}

/// Starts simulated modems.
#[derive(Debug)]
pub struct SimModem;

impl SimModem {
    /// Opens a pseudo-terminal and starts answering on it. Call inside a tokio runtime.
    pub fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
        let sim = if !cfg.sim_present {
            SimLock::Missing
        } else if cfg.pin.is_some() {
            SimLock::Pin
        } else {
            SimLock::Ready
        };
        let state = State {
            echo: true,
            cmee: 0,
            cmgf: 0,
            csms: 0,
            cnmi: [0; 5],
            creg_n: 0,
            cops_format: 0,
            sim,
            pin_attempts: 3,
            busy_left: 0,
            store: BTreeMap::new(),
            next_mr: 0,
            sent: Vec::new(),
            commands: Vec::new(),
            delay: Duration::ZERO,
            send_delay: Duration::ZERO,
            error_next: 0,
            cms_next: VecDeque::new(),
            silent_next: 0,
            registration: cfg.registration,
            cnma_expected: 0,
            refs: ReferenceAllocator::new(64, 0x5A5A),
            plugs: 0,
            last_report: tokio::time::Instant::now(),
            cfg,
        };
        let handle = SimHandle {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                ctl: Mutex::new(None),
                unplug: Mutex::new(None),
                path: Mutex::new(PathBuf::new()),
            }),
        };
        handle.plug()?;
        Ok(handle)
    }
}

/// Controls a running simulated modem. Cloning gives another handle to the same modem.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// The current UTC time as a TP-SCTS.
fn now_timestamp() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = smsbridge_protocol::civil::civil_from_days(days);
    Timestamp {
        year: u8::try_from(year.rem_euclid(100)).unwrap_or(0),
        month,
        day,
        hour: u8::try_from(rem / 3600).unwrap_or(0),
        minute: u8::try_from(rem % 3600 / 60).unwrap_or(0),
        second: u8::try_from(rem % 60).unwrap_or(0),
        tz_quarters: 0,
    }
}

impl SimHandle {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    fn plug(&self) -> Result<PathBuf, SimError> {
        let pty = Pty::open()?;
        let path = pty.path().to_path_buf();
        let link = self.state().cfg.link.clone();
        if let Some(link) = link {
            let tmp = link.with_extension("new");
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&path, &tmp)?;
            std::fs::rename(&tmp, &link)?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (unplug_tx, unplug_rx) = oneshot::channel();
        *lock(&self.shared.ctl) = Some(tx);
        *lock(&self.shared.unplug) = Some(unplug_tx);
        *lock(&self.shared.path) = path.clone();
        self.state().plugs += 1;
        tokio::spawn(run(pty, Arc::clone(&self.shared), rx, unplug_rx));
        Ok(path)
    }

    /// The pseudo-terminal's path (changes after [`SimHandle::replug`]).
    pub fn path(&self) -> PathBuf {
        lock(&self.shared.path).clone()
    }

    /// The stable link, when configured.
    pub fn link(&self) -> Option<PathBuf> {
        self.state().cfg.link.clone()
    }

    /// Every SMS-SUBMIT accepted so far, in order.
    pub fn sent(&self) -> Vec<SentSms> {
        self.state().sent.clone()
    }

    /// The SIM store.
    pub fn stored(&self) -> Vec<StoredSms> {
        self.state().store.values().cloned().collect()
    }

    /// Every command line received (without `AT` and `\r`), in order.
    pub fn commands(&self) -> Vec<String> {
        self.state().commands.clone()
    }

    /// How many command lines matching `prefix` (case-insensitive, after `AT`) were received.
    pub fn count_commands(&self, prefix: &str) -> usize {
        let p = prefix.to_ascii_uppercase();
        self.state()
            .commands
            .iter()
            .filter(|c| c.to_ascii_uppercase().starts_with(&p))
            .count()
    }

    fn write(&self, bytes: Vec<u8>) {
        if let Some(tx) = lock(&self.shared.ctl).as_ref() {
            let _ = tx.send(Ctl::Write(bytes));
        }
    }

    /// Delivers an incoming message from `from`: one SMS-DELIVER per segment (concatenated when long),
    /// stored on the SIM with `+CMTI` (`+CNMI` `<mt>`=1 or 0), or routed with `+CMT` (`<mt>`=2). Returns the
    /// storage indexes used.
    pub fn inject_sms(&self, from: &str, text: &str) -> Result<Vec<u32>, SimError> {
        self.inject_sms_parts(from, text, |_| true)
    }

    /// [`SimHandle::inject_sms`] delivering only the segments (numbered from 1) that `keep` lets through, as
    /// when the network loses a part of a concatenated message.
    pub fn inject_sms_parts(
        &self,
        from: &str,
        text: &str,
        keep: impl Fn(usize) -> bool,
    ) -> Result<Vec<u32>, SimError> {
        let mut st = self.state();
        let plan = st
            .refs
            .plan(from, text, &PlanOptions::default())
            .map_err(|e| SimError::Build(e.to_string()))?;
        let smsc = Address::parse(&st.cfg.smsc);
        let mut pdus = Vec::new();
        for (i, seg) in plan.segments.iter().enumerate() {
            if !keep(i + 1) {
                continue;
            }
            let d = Deliver {
                tp_mms: false,
                tp_lp: false,
                tp_sri: false,
                tp_rp: false,
                tp_oa: Address::parse(from),
                tp_pid: Pid::DEFAULT,
                tp_dcs: plan.dcs,
                tp_scts: now_timestamp(),
                tp_ud: seg.user_data(),
            };
            let (pdu, tpdu_len) = encode_with_sca(Some(&smsc), &Tpdu::Deliver(d))
                .map_err(|e| SimError::Build(e.to_string()))?;
            pdus.push((pdu, tpdu_len));
        }
        let mut indexes = Vec::new();
        for (pdu, tpdu_len) in pdus {
            if st.cnmi[1] == 2 {
                if st.csms == 1 {
                    st.cnma_expected += 1;
                }
                let urc = format!("\r\n+CMT: ,{tpdu_len}\r\n{}\r\n", hex(&pdu));
                drop(st);
                self.write(urc.into_bytes());
                st = self.state();
            } else {
                let index = st.store_pdu(0, pdu)?;
                indexes.push(index);
                if st.cnmi[1] == 1 {
                    drop(st);
                    self.write(format!("\r\n+CMTI: \"SM\",{index}\r\n").into_bytes());
                    st = self.state();
                }
            }
        }
        Ok(indexes)
    }

    /// Writes bytes to the client now, outside any answer (line noise).
    pub fn inject_garbage(&self, bytes: &[u8]) {
        self.write(bytes.to_vec());
    }

    /// Every answer comes this much later (a slow or busy modem).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// From now on the network takes this much longer to answer each send: the final result code after a
    /// message body (`+CMGS: <mr>`) comes this late, on top of [`SimHandle::set_delay`], while the `> `
    /// prompt still comes at once (a congested radio network). The message counts as sent before the wait.
    /// The simulated modem answers nothing else meanwhile.
    pub fn set_send_delay(&self, delay: Duration) {
        self.state().send_delay = delay;
    }

    /// The next `n` commands answer plain `ERROR`.
    pub fn fail_next(&self, n: u32) {
        self.state().error_next = n;
    }

    /// The next sends (`+CMGS` bodies) answer `+CMS ERROR: <code>`, one code per send.
    pub fn fail_sends(&self, codes: &[u16]) {
        self.state().cms_next.extend(codes.iter().copied());
    }

    /// The next `n` command lines get no answer at all (a hung modem).
    pub fn silence(&self, n: u32) {
        self.state().silent_next = n;
    }

    /// Locks the SIM with `pin` (as after a power cycle): SIM commands fail until `AT+CPIN="<pin>"`.
    pub fn require_pin(&self, pin: &str) {
        let mut st = self.state();
        st.cfg.pin = Some(pin.to_owned());
        st.sim = SimLock::Pin;
        st.pin_attempts = 3;
    }

    /// Blocks the SIM: it wants the PUK (`+CPIN: SIM PUK`).
    pub fn block_sim(&self) {
        self.state().sim = SimLock::Puk;
    }

    /// Removes (`false`) or inserts (`true`, unlocked) the SIM.
    pub fn set_sim_present(&self, present: bool) {
        let mut st = self.state();
        st.sim = if present {
            SimLock::Ready
        } else {
            SimLock::Missing
        };
    }

    /// The next `n` SIM commands answer "SIM busy" (`+CME ERROR: 14` / `+CMS ERROR: 314`).
    pub fn sim_busy(&self, n: u32) {
        self.state().busy_left = n;
    }

    /// Sets the `+CREG` `<stat>`; sends fail with `+CMS ERROR: 331` unless it is 1 or 5.
    pub fn set_registration(&self, stat: u8) {
        let n = {
            let mut st = self.state();
            st.registration = stat;
            st.creg_n
        };
        if n >= 1 {
            self.write(format!("\r\n+CREG: {stat}\r\n").into_bytes());
        }
    }

    /// Sets how status reports name the recipient from now on.
    pub fn set_report_recipient(&self, format: ReportRecipient) {
        self.state().cfg.report_recipient = format;
    }

    /// Sets the delay and TP-ST of status reports from now on.
    pub fn set_report(&self, delay: Duration, status: u8) {
        let mut st = self.state();
        st.cfg.report_delay = delay;
        st.cfg.report_status = status;
    }

    /// Pulls the plug: the pseudo-terminal closes (clients read EOF or EIO) and the link, when configured,
    /// is removed as udev removes `/dev/serial/by-id` links (so nobody opens whatever reuses the old node).
    pub fn unplug(&self) {
        if let Some(link) = self.link() {
            let _ = std::fs::remove_file(link);
        }
        lock(&self.shared.ctl).take();
        if let Some(tx) = lock(&self.shared.unplug).take() {
            let _ = tx.send(());
        }
    }

    /// Plugs back in: a new pseudo-terminal (a new path, as a USB modem may come back as another
    /// `/dev/ttyUSBn`); the link, when configured, is moved to it. The SIM store is kept and the modem
    /// settings are back to their power-on values.
    pub fn replug(&self) -> Result<PathBuf, SimError> {
        self.unplug();
        {
            let mut st = self.state();
            st.reset();
            st.silent_next = 0;
            st.error_next = 0;
        }
        self.plug()
    }

    /// How many times the modem was plugged in (1 after start).
    pub fn plugs(&self) -> u32 {
        self.state().plugs
    }
}

impl State {
    fn reset(&mut self) {
        self.echo = true;
        self.cmee = 0;
        self.cmgf = 0;
        self.cnmi = [0; 5];
        self.creg_n = 0;
        self.cops_format = 0;
    }

    fn store_pdu(&mut self, stat: u8, pdu: Vec<u8>) -> Result<u32, SimError> {
        let index = (1..=self.cfg.capacity)
            .find(|i| !self.store.contains_key(i))
            .ok_or(SimError::StoreFull(self.cfg.capacity))?;
        self.store.insert(index, StoredSms { index, stat, pdu });
        Ok(index)
    }

    fn cme(&self, code: u16) -> String {
        match self.cmee {
            0 => "ERROR".into(),
            2 => format!("+CME ERROR: {}", cme_meaning(code).unwrap_or("unknown")),
            _ => format!("+CME ERROR: {code}"),
        }
    }

    fn cms(&self, code: u16) -> String {
        if self.cmee == 0 {
            "ERROR".into()
        } else {
            format!("+CMS ERROR: {code}")
        }
    }

    /// The error for a SIM command while the SIM is not usable (`cms`: an SMS command).
    fn sim_error(&mut self, cms: bool) -> Option<String> {
        let (cme, cms_code) = match self.sim {
            SimLock::Missing => (10, 310),
            SimLock::Pin => (11, 311),
            SimLock::Puk => (12, 316),
            SimLock::Ready if self.busy_left > 0 => {
                self.busy_left -= 1;
                (14, 314)
            }
            SimLock::Ready => return None,
        };
        Some(if cms {
            self.cms(cms_code)
        } else {
            self.cme(cme)
        })
    }

    fn registered(&self) -> bool {
        matches!(self.registration, 1 | 5)
    }

    fn used(&self) -> usize {
        self.store.len()
    }
}

/// What one command line produced.
#[derive(Debug, Default)]
struct Reply {
    info: Vec<String>,
    /// Raw bytes after the information lines (a PDU line is an info line too).
    result: Option<String>,
    prompt: bool,
}

impl Reply {
    fn ok() -> Reply {
        Reply {
            result: Some("OK".into()),
            ..Reply::default()
        }
    }
    fn err(text: String) -> Reply {
        Reply {
            result: Some(text),
            ..Reply::default()
        }
    }
    fn info(lines: Vec<String>) -> Reply {
        Reply {
            info: lines,
            result: Some("OK".into()),
            prompt: false,
        }
    }
}

fn args(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.trim().trim_matches('"').to_owned())
        .collect()
}

fn num(s: Option<&String>) -> Option<u32> {
    s.and_then(|v| v.trim().parse().ok())
}

/// Answers one command (`cmd` is the text after `AT`, one of `;`-separated parts).
fn answer(st: &mut State, cmd: &str) -> Reply {
    let upper = cmd.to_ascii_uppercase();
    let u = upper.as_str();
    let (name, rest) = match u.find(['=', '?']) {
        Some(i) => (u.get(..i).unwrap_or(u), u.get(i..).unwrap_or("")),
        None => (u, ""),
    };
    // Keep the original letters of the arguments (PINs and numbers are digits; quotes kept as sent).
    let raw_args = cmd.get(name.len()..).unwrap_or("");
    let set_args = raw_args.strip_prefix('=').map(args).unwrap_or_default();
    let sms_cmd = matches!(
        name,
        "+CMGS" | "+CMGR" | "+CMGL" | "+CMGD" | "+CPMS" | "+CSCA" | "+CNMA" | "+CMGW"
    );
    let sim_cmd = matches!(name, "+CIMI" | "+CCID");
    if (sms_cmd || sim_cmd)
        && rest != "=?"
        && let Some(e) = st.sim_error(sms_cmd)
    {
        return Reply::err(e);
    }
    match (name, rest) {
        ("", "") => Reply::ok(),
        ("Z", "") => {
            st.reset();
            Reply::ok()
        }
        ("E0", "") => {
            st.echo = false;
            Reply::ok()
        }
        ("E1", "") => {
            st.echo = true;
            Reply::ok()
        }
        ("V1", "") | ("Q0", "") | ("&F", "") => Reply::ok(),
        ("I", "") | ("+CGMI", "") | ("+GMI", "") => Reply::info(vec!["SMSBRIDGE".into()]),
        ("+CGMM", "") | ("+GMM", "") => Reply::info(vec!["SIMULATED-GSM".into()]),
        ("+CGMR", "") | ("+GMR", "") => Reply::info(vec!["1.0".into()]),
        ("+CGSN", "") | ("+GSN", "") => Reply::info(vec![st.cfg.imei.clone()]),
        ("+CIMI", "") => Reply::info(vec![st.cfg.imsi.clone()]),
        ("+CCID", "") => Reply::info(vec![format!("+CCID: {}", st.cfg.iccid)]),
        ("+CMEE", _) if rest.starts_with('=') => match num(set_args.first()) {
            Some(n @ 0..=2) => {
                st.cmee = u8::try_from(n).unwrap_or(0);
                Reply::ok()
            }
            _ => Reply::err(st.cme(50)),
        },
        ("+CFUN", "?") => Reply::info(vec!["+CFUN: 1".into()]),
        ("+CFUN", _) => Reply::ok(),
        ("+CPIN", "?") => {
            if let Some(e) = st.sim_error(false) {
                if st.sim == SimLock::Ready || st.sim == SimLock::Missing {
                    return Reply::err(e);
                }
            }
            let code = match st.sim {
                SimLock::Pin => "SIM PIN",
                SimLock::Puk => "SIM PUK",
                _ => "READY",
            };
            Reply::info(vec![format!("+CPIN: {code}")])
        }
        ("+CPIN", _) if rest.starts_with('=') => match st.sim {
            SimLock::Pin => {
                if set_args.first() == st.cfg.pin.as_ref() {
                    st.sim = SimLock::Ready;
                    Reply::ok()
                } else {
                    st.pin_attempts = st.pin_attempts.saturating_sub(1);
                    if st.pin_attempts == 0 {
                        st.sim = SimLock::Puk;
                    }
                    Reply::err(st.cme(16))
                }
            }
            SimLock::Puk => Reply::err(st.cme(12)),
            SimLock::Missing => Reply::err(st.cme(10)),
            SimLock::Ready => Reply::err(st.cme(3)),
        },
        ("+CSQ", "") => Reply::info(vec![format!("+CSQ: {},99", st.cfg.rssi)]),
        ("+CREG", "?") => Reply::info(vec![format!("+CREG: {},{}", st.creg_n, st.registration)]),
        ("+CREG", _) if rest.starts_with('=') && rest != "=?" => {
            st.creg_n = u8::try_from(num(set_args.first()).unwrap_or(0)).unwrap_or(0);
            Reply::ok()
        }
        ("+COPS", "?") => {
            if st.registered() {
                let oper = if st.cops_format == 2 {
                    st.cfg.imsi.get(..5).unwrap_or("").to_owned()
                } else {
                    st.cfg.operator.clone()
                };
                Reply::info(vec![format!("+COPS: 0,{},\"{}\",0", st.cops_format, oper)])
            } else {
                Reply::info(vec!["+COPS: 0".into()])
            }
        }
        ("+COPS", _) if rest.starts_with('=') && rest != "=?" => {
            if let Some(f) = num(set_args.get(1)) {
                st.cops_format = u8::try_from(f).unwrap_or(0);
            }
            Reply::ok()
        }
        ("+CMGF", "?") => Reply::info(vec![format!("+CMGF: {}", st.cmgf)]),
        ("+CMGF", "=?") => Reply::info(vec!["+CMGF: (0,1)".into()]),
        ("+CMGF", _) => match num(set_args.first()) {
            Some(n @ 0..=1) => {
                st.cmgf = u8::try_from(n).unwrap_or(0);
                Reply::ok()
            }
            _ => Reply::err(st.cms(304)),
        },
        ("+CSMS", "?") => Reply::info(vec![format!("+CSMS: {},1,1,1", st.csms)]),
        ("+CSMS", "=?") => Reply::info(vec!["+CSMS: (0,1)".into()]),
        ("+CSMS", _) => match num(set_args.first()) {
            Some(n @ 0..=1) => {
                st.csms = u8::try_from(n).unwrap_or(0);
                Reply::info(vec!["+CSMS: 1,1,1".into()])
            }
            _ => Reply::err(st.cms(303)),
        },
        ("+CPMS", "=?") => Reply::info(vec!["+CPMS: (\"SM\"),(\"SM\"),(\"SM\")".into()]),
        ("+CPMS", "?") => {
            let (u, t) = (st.used(), st.cfg.capacity);
            Reply::info(vec![format!(
                "+CPMS: \"SM\",{u},{t},\"SM\",{u},{t},\"SM\",{u},{t}"
            )])
        }
        ("+CPMS", _) => {
            if set_args.iter().any(|m| !m.is_empty() && m != "SM") {
                return Reply::err(st.cms(302));
            }
            let (u, t) = (st.used(), st.cfg.capacity);
            Reply::info(vec![format!("+CPMS: {u},{t},{u},{t},{u},{t}")])
        }
        ("+CNMI", "?") => {
            let c = st.cnmi;
            Reply::info(vec![format!(
                "+CNMI: {},{},{},{},{}",
                c[0], c[1], c[2], c[3], c[4]
            )])
        }
        ("+CNMI", "=?") => Reply::info(vec!["+CNMI: (0-2),(0-2),(0),(0-2),(0,1)".into()]),
        ("+CNMI", _) => {
            let mut c = [0u8; 5];
            for (slot, a) in c.iter_mut().zip(set_args.iter()) {
                *slot = a.parse().unwrap_or(0);
            }
            if c[1] > 2 || c[3] > 2 || c[0] > 3 {
                return Reply::err(st.cms(303));
            }
            st.cnmi = c;
            Reply::ok()
        }
        ("+CSCA", "?") => Reply::info(vec![format!("+CSCA: \"{}\",145", st.cfg.smsc)]),
        ("+CSCA", _) => {
            if let Some(n) = set_args.first() {
                st.cfg.smsc = n.clone();
            }
            Reply::ok()
        }
        ("+CSMP", _) | ("+CLIP", _) | ("+CRC", _) | ("+CVHU", _) | ("+CSCS", "=?") => Reply::ok(),
        ("+CSCS", "?") => Reply::info(vec!["+CSCS: \"GSM\"".into()]),
        ("+CSCS", _) => Reply::ok(),
        ("+CLAC", "") => Reply::info(vec![
            "+CLAC: +CGSN,+CIMI,+CCID,+CPIN,+CSQ,+CREG,+COPS,+CMGF,+CSMS,+CPMS,+CNMI,+CSCA,+CMGS,+CMGR,+CMGL,+CMGD,+CNMA,+CMEE".into(),
        ]),
        ("+CMGS", _) if rest.starts_with('=') && rest != "=?" => {
            if st.cmgf != 0 {
                return Reply::err(st.cms(302));
            }
            match num(set_args.first()) {
                Some(n) if (1..=255).contains(&n) => Reply {
                    prompt: true,
                    ..Reply::default()
                },
                _ => Reply::err(st.cms(304)),
            }
        }
        ("+CMGR", _) if rest.starts_with('=') => {
            let Some(i) = num(set_args.first()) else {
                return Reply::err(st.cms(321));
            };
            if i == 0 || i > st.cfg.capacity {
                return Reply::err(st.cms(321));
            }
            match st.store.get_mut(&i) {
                Some(m) => {
                    let line = format!("+CMGR: {},,{}", m.stat, tpdu_len(&m.pdu));
                    let pdu = hex(&m.pdu);
                    if m.stat == 0 {
                        m.stat = 1;
                    }
                    Reply::info(vec![line, pdu])
                }
                None => Reply::ok(),
            }
        }
        ("+CMGL", _) if rest.starts_with('=') && rest != "=?" => {
            let filter = match set_args.first().map(String::as_str) {
                Some("REC UNREAD") => 0,
                Some("REC READ") => 1,
                Some("STO UNSENT") => 2,
                Some("STO SENT") => 3,
                Some("ALL") => 4,
                other => other.and_then(|v| v.parse().ok()).unwrap_or(99),
            };
            if filter > 4 {
                return Reply::err(st.cms(302));
            }
            let mut lines = Vec::new();
            for m in st.store.values_mut() {
                if filter == 4 || u32::from(m.stat) == filter {
                    lines.push(format!("+CMGL: {},{},,{}", m.index, m.stat, tpdu_len(&m.pdu)));
                    lines.push(hex(&m.pdu));
                    if m.stat == 0 {
                        m.stat = 1;
                    }
                }
            }
            Reply::info(lines)
        }
        ("+CMGD", _) if rest.starts_with('=') && rest != "=?" => {
            let index = num(set_args.first()).unwrap_or(0);
            let flag = num(set_args.get(1)).unwrap_or(0);
            match flag {
                0 => {
                    if index == 0 || index > st.cfg.capacity {
                        return Reply::err(st.cms(321));
                    }
                    st.store.remove(&index);
                }
                1..=4 => st.store.retain(|_, m| match flag {
                    1 => m.stat != 1,
                    2 => m.stat != 1 && m.stat != 3,
                    3 => m.stat == 0,
                    _ => false,
                }),
                _ => return Reply::err(st.cms(302)),
            }
            Reply::ok()
        }
        ("+CNMA", "") => {
            if st.cnma_expected > 0 {
                st.cnma_expected -= 1;
                Reply::ok()
            } else {
                Reply::err(st.cms(340))
            }
        }
        _ => Reply::err("ERROR".into()),
    }
}

/// The TPDU length of an SCA + TPDU.
fn tpdu_len(pdu: &[u8]) -> usize {
    let sca = pdu.first().map_or(1, |&n| usize::from(n) + 1);
    pdu.len().saturating_sub(sca)
}

/// The answer to a `+CMGS` body (the hex PDU before Ctrl-Z), and the status report to send later.
fn answer_body(st: &mut State, body: &[u8]) -> (Reply, Option<(Duration, u8, Address, u8)>) {
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Some(bytes) = unhex(&text) else {
        return (Reply::err(st.cms(304)), None);
    };
    let Ok((sca, Tpdu::Submit(submit))) = decode_with_sca(&bytes) else {
        return (Reply::err(st.cms(304)), None);
    };
    if let Some(code) = st.cms_next.pop_front() {
        return (Reply::err(st.cms(code)), None);
    }
    if !st.registered() {
        return (Reply::err(st.cms(331)), None);
    }
    let mr = st.next_mr;
    st.next_mr = st.next_mr.wrapping_add(1);
    let report = submit.tp_srr.then(|| {
        (
            st.cfg.report_delay,
            mr,
            submit.tp_da.clone(),
            st.cfg.report_status,
        )
    });
    st.sent.push(SentSms {
        tp_mr: mr,
        to: submit.tp_da.display(),
        text: submit.tp_ud.text(submit.tp_dcs),
        concat: submit.tp_ud.header.as_ref().and_then(|h| h.concat()),
        smsc: sca.as_ref().map(Address::display),
        at: tokio::time::Instant::now(),
        submit,
    });
    (Reply::info(vec![format!("+CMGS: {mr}")]), report)
}

fn frame(reply: &Reply) -> (Vec<u8>, Vec<u8>) {
    let mut info = Vec::new();
    for l in &reply.info {
        info.extend_from_slice(b"\r\n");
        info.extend_from_slice(l.as_bytes());
        info.extend_from_slice(b"\r\n");
    }
    let mut fin = Vec::new();
    if let Some(r) = &reply.result {
        fin.extend_from_slice(b"\r\n");
        fin.extend_from_slice(r.as_bytes());
        fin.extend_from_slice(b"\r\n");
    }
    (info, fin)
}

/// Sends the status report for `mr` as `+CDS` or stores it with `+CDSI`, as `+CNMI` `<ds>` says.
fn deliver_report(shared: &Shared, mr: u8, to: &Address, status: u8) {
    let ts = now_timestamp();
    let tp_ra = lock(&shared.state).cfg.report_recipient.apply(to);
    let report = StatusReport {
        tp_mms: false,
        tp_lp: false,
        tp_srq: false,
        tp_mr: mr,
        tp_ra,
        tp_scts: ts,
        tp_dt: ts,
        tp_st: Status(status),
        tp_pi: None,
        tp_pid: None,
        tp_dcs: None,
        tp_ud: None,
    };
    let mut st = lock(&shared.state);
    let smsc = Address::parse(&st.cfg.smsc);
    let Ok((pdu, len)) = encode_with_sca(Some(&smsc), &Tpdu::StatusReport(report)) else {
        return;
    };
    let urc = match st.cnmi[3] {
        1 => {
            if st.csms == 1 {
                st.cnma_expected += 1;
            }
            Some(format!("\r\n+CDS: {len}\r\n{}\r\n", hex(&pdu)))
        }
        2 => match st.store_pdu(0, pdu) {
            Ok(i) => Some(format!("\r\n+CDSI: \"SM\",{i}\r\n")),
            Err(_) => None,
        },
        _ => None,
    };
    drop(st);
    if let Some(u) = urc
        && let Some(tx) = lock(&shared.ctl).as_ref()
    {
        let _ = tx.send(Ctl::Write(u.into_bytes()));
    }
}

/// The longest command line kept; longer input is dropped up to its end.
const MAX_LINE: usize = 1024;

async fn run(
    pty: Pty,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Ctl>,
    mut unplugged: oneshot::Receiver<()>,
) {
    let mut buf = [0u8; 512];
    let mut line: Vec<u8> = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            // What the client wrote comes first: a URC that fires meanwhile waits for the answer, as with
            // `+CNMI` <mode> 2 (buffered while the link is reserved).
            biased;
            _ = &mut unplugged => return,
            r = pty.read(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) => {
                        // EIO while no client has the slave open on some kernels: wait and go on.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Ok(n) => n,
                };
                for &b in buf.get(..n).unwrap_or_default() {
                    if let Some(pdu) = body.as_mut() {
                        match b {
                            0x1A => {
                                let text = std::mem::take(pdu);
                                body = None;
                                let (echo, delay) = {
                                    let st = lock(&shared.state);
                                    (st.echo, st.delay + st.send_delay)
                                };
                                let (reply, report) = answer_body(&mut lock(&shared.state), &text);
                                if echo && pty.write_all(&text).await.is_err() {
                                    return;
                                }
                                if !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                if !write_reply(&pty, &shared, &mut rx, &reply).await {
                                    return;
                                }
                                if let Some((after, mr, to, status)) = report {
                                    // Over the air, reports come one at a time: keep them apart.
                                    let at = {
                                        let mut st = lock(&shared.state);
                                        let at = (tokio::time::Instant::now() + after)
                                            .max(st.last_report + REPORT_SPACING);
                                        st.last_report = at;
                                        at
                                    };
                                    let shared = Arc::clone(&shared);
                                    tokio::spawn(async move {
                                        tokio::time::sleep_until(at).await;
                                        deliver_report(&shared, mr, &to, status);
                                    });
                                }
                            }
                            0x1B => {
                                body = None;
                                if pty.write_all(b"\r\nOK\r\n").await.is_err() {
                                    return;
                                }
                            }
                            _ if pdu.len() < 1024 => pdu.push(b),
                            _ => {}
                        }
                        continue;
                    }
                    match b {
                        b'\r' | b'\n' => {
                            if line.is_empty() {
                                continue;
                            }
                            // Modems ignore control characters around a command (an ESC sent to leave a prompt, noise).
                            let text = String::from_utf8_lossy(&line)
                                .trim_matches(|c: char| c.is_control() || c.is_whitespace())
                                .to_owned();
                            line.clear();
                            match handle_line(&pty, &shared, &mut rx, &text).await {
                                LineOutcome::Closed => return,
                                LineOutcome::Prompt => body = Some(Vec::new()),
                                LineOutcome::Done => {}
                            }
                        }
                        _ if line.len() < MAX_LINE => line.push(b),
                        _ => {}
                    }
                }
            }
            // Not in the middle of a command line or a message body the client is writing.
            ctl = rx.recv(), if line.is_empty() && body.is_none() => match ctl {
                Some(Ctl::Write(bytes)) => {
                    if pty.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}

enum LineOutcome {
    Done,
    Prompt,
    Closed,
}

async fn handle_line(
    pty: &Pty,
    shared: &Arc<Shared>,
    rx: &mut mpsc::UnboundedReceiver<Ctl>,
    text: &str,
) -> LineOutcome {
    // Garbage that does not start with AT is not a command; modems ignore it.
    let Some(cmd) = text
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("AT"))
        .and(text.get(2..))
    else {
        return LineOutcome::Done;
    };
    let (echo, delay, reply) = {
        let mut st = lock(&shared.state);
        st.commands.push(cmd.to_owned());
        if st.silent_next > 0 {
            st.silent_next -= 1;
            return LineOutcome::Done;
        }
        let echo = st.echo;
        let reply = if st.error_next > 0 {
            st.error_next -= 1;
            Reply::err("ERROR".into())
        } else {
            let mut all = Reply::default();
            for part in split_commands(cmd) {
                let r = answer(&mut st, &part);
                all.info.extend(r.info);
                all.prompt = r.prompt;
                let failed = r.result.as_deref().is_some_and(|x| x != "OK");
                all.result = r.result;
                if failed || all.prompt {
                    break;
                }
            }
            all
        };
        (echo, st.delay, reply)
    };
    if echo {
        let mut e = text.as_bytes().to_vec();
        e.push(b'\r');
        if pty.write_all(&e).await.is_err() {
            return LineOutcome::Closed;
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if reply.prompt {
        if pty.write_all(b"\r\n> ").await.is_err() {
            return LineOutcome::Closed;
        }
        return LineOutcome::Prompt;
    }
    if write_reply(pty, shared, rx, &reply).await {
        LineOutcome::Done
    } else {
        LineOutcome::Closed
    }
}

/// `+CMGF=0;+CNMI=2,1,0,2,0` -> its parts, with `+` kept (quotes respected).
fn split_commands(cmd: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmd.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Writes the information lines, then (when configured) URCs waiting to go out, then the final result.
async fn write_reply(
    pty: &Pty,
    shared: &Arc<Shared>,
    rx: &mut mpsc::UnboundedReceiver<Ctl>,
    reply: &Reply,
) -> bool {
    let (info, fin) = frame(reply);
    if pty.write_all(&info).await.is_err() {
        return false;
    }
    let inside = lock(&shared.state).cfg.urcs_inside_responses;
    if inside {
        // Bounded: at most what is queued now.
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(Ctl::Write(bytes)) => {
                    if pty.write_all(&bytes).await.is_err() {
                        return false;
                    }
                }
                Err(_) => break,
            }
        }
    }
    pty.write_all(&fin).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            echo: true,
            cmee: 1,
            cmgf: 0,
            csms: 0,
            cnmi: [0; 5],
            creg_n: 0,
            cops_format: 0,
            sim: SimLock::Ready,
            pin_attempts: 3,
            busy_left: 0,
            store: BTreeMap::new(),
            next_mr: 0,
            sent: Vec::new(),
            commands: Vec::new(),
            delay: Duration::ZERO,
            send_delay: Duration::ZERO,
            error_next: 0,
            cms_next: VecDeque::new(),
            silent_next: 0,
            registration: 1,
            cnma_expected: 0,
            refs: ReferenceAllocator::new(4, 0),
            plugs: 0,
            last_report: tokio::time::Instant::now(),
            cfg: SimConfig::default(),
        }
    }

    fn result(st: &mut State, cmd: &str) -> (Vec<String>, Option<String>) {
        let r = answer(st, cmd);
        (r.info, r.result)
    }

    #[test]
    fn pin_then_puk_after_three_wrong_tries() {
        let mut st = state();
        st.sim = SimLock::Pin;
        st.cfg.pin = Some("1234".into());
        assert_eq!(result(&mut st, "+CPIN?").0, vec!["+CPIN: SIM PIN"]);
        assert_eq!(
            result(&mut st, "+CIMI").1.as_deref(),
            Some("+CME ERROR: 11")
        );
        assert_eq!(
            result(&mut st, "+CMGL=4").1.as_deref(),
            Some("+CMS ERROR: 311")
        );
        for _ in 0..3 {
            assert_eq!(
                result(&mut st, "+CPIN=\"0000\"").1.as_deref(),
                Some("+CME ERROR: 16")
            );
        }
        assert_eq!(result(&mut st, "+CPIN?").0, vec!["+CPIN: SIM PUK"]);
        let mut st = state();
        st.sim = SimLock::Pin;
        st.cfg.pin = Some("1234".into());
        assert_eq!(result(&mut st, "+CPIN=\"1234\"").1.as_deref(), Some("OK"));
        assert_eq!(result(&mut st, "+CPIN?").0, vec!["+CPIN: READY"]);
    }

    #[test]
    fn errors_follow_cmee() {
        let mut st = state();
        st.sim = SimLock::Missing;
        st.cmee = 0;
        assert_eq!(result(&mut st, "+CIMI").1.as_deref(), Some("ERROR"));
        st.cmee = 2;
        assert_eq!(
            result(&mut st, "+CIMI").1.as_deref(),
            Some("+CME ERROR: SIM not inserted")
        );
        assert_eq!(result(&mut st, "+NOSUCH").1.as_deref(), Some("ERROR"));
    }

    #[test]
    fn store_read_list_delete() {
        let mut st = state();
        let i = st.store_pdu(0, vec![0x00, 0x04]).unwrap_or(0);
        let j = st.store_pdu(1, vec![0x00, 0x04, 0x01]).unwrap_or(0);
        assert_eq!((i, j), (1, 2));
        assert_eq!(result(&mut st, "+CMGR=1").0, vec!["+CMGR: 0,,1", "0004"]);
        // Reading marks it read.
        assert_eq!(result(&mut st, "+CMGL=0").0, Vec::<String>::new());
        assert_eq!(result(&mut st, "+CMGL=4").0.len(), 4);
        assert_eq!(
            result(&mut st, "+CMGR=99").1.as_deref(),
            Some("+CMS ERROR: 321")
        );
        assert_eq!(result(&mut st, "+CMGD=1,1").1.as_deref(), Some("OK"));
        assert!(st.store.is_empty());
        assert_eq!(
            result(&mut st, "+CPMS?").0,
            vec!["+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30"]
        );
    }

    #[test]
    fn send_body_checks_pdu_and_network() {
        let mut st = state();
        assert!(answer(&mut st, "+CMGS=11").prompt);
        // SCA 00, SMS-SUBMIT to +4670 "hi" (GSM 7-bit packed: E8 34).
        let body = b"00010004916407000002E834";
        let (bad, _) = answer_body(&mut st, b"zz");
        assert_eq!(bad.result.as_deref(), Some("+CMS ERROR: 304"));
        let (ok, report) = answer_body(&mut st, body);
        assert_eq!(ok.info, vec!["+CMGS: 0"]);
        assert!(report.is_none());
        st.registration = 0;
        let (no_net, _) = answer_body(&mut st, body);
        assert_eq!(no_net.result.as_deref(), Some("+CMS ERROR: 331"));
        assert_eq!(st.sent.len(), 1);
        assert_eq!(st.sent[0].to, "+4670");
        assert_eq!(st.sent[0].text.as_deref(), Some("hi"));
        assert_eq!(
            split_commands("+CMEE=1;+CREG=2"),
            vec!["+CMEE=1", "+CREG=2"]
        );
    }
}
