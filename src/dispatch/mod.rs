//! The link engine: starts the built-in SMSC simulator when configured, the SMPP links and GSM modems of
//! every carrier, one dispatcher per carrier, the inbound handlers (receipts, MO), the lease supervisor and
//! the metrics endpoint; and gives the gateway the hooks it needs ([`crate::gateway::Links`]).
//!
//! Shutdown: the gateway cancels its token once the API has stopped. Dispatchers stop claiming and record
//! the outcome of every submit still in flight; links drain their windows and unbind; modem tasks finish
//! the command in progress and stop, and their last events are committed; the inbound writer commits what
//! it holds; then the simulator and the metrics endpoint stop. Only then is the store closed.

pub mod cancel;
pub mod dispatcher;
pub mod inbound;
pub mod modem;
pub mod pdu;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use smsbridge_hw::ModemHandle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{LinkState, LinkStates};
use crate::config::{self, Config, ReceiptStat, SimulatorIdFormat};
use crate::gateway::{CarrierHealthFn, Components, GatewayError, Links};
use crate::link::smpp::{self, BindState, LinkHandle, SmppLink, SmppMetrics};
use crate::metrics::GatewayMetrics;
use crate::model::{CarrierId, UnixMs};
use crate::ratelimit::Limiters;
use crate::sim::smsc::{IdFormat, OutcomeWeight, Smsc, SmscConfig};
use crate::store::{Store, StoreError};

use dispatcher::{DispatchLink, Dispatcher};
use inbound::{CarrierInbound, MoAssembler, ReceiptWriter};

/// How long start waits for each link's first bind attempt to settle (bound, or down) before serving.
const FIRST_BIND_WAIT: Duration = Duration::from_secs(3);
/// How often leases nobody answered for are taken back.
const STALE_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// One link for Status and health.
struct LinkEntry {
    carrier: config::CarrierId,
    name: String,
    handle: EntryHandle,
}

enum EntryHandle {
    Smpp(LinkHandle),
    Modem(ModemHandle),
}

impl EntryHandle {
    /// Whether the link can carry traffic: an SMPP link bound, a modem ready and registered.
    fn is_up(&self) -> bool {
        match self {
            EntryHandle::Smpp(h) => h.is_bound(),
            EntryHandle::Modem(m) => m.is_healthy(),
        }
    }

    /// Waits, at most until `deadline`, for the link's first attempt to settle (bound or down; a modem
    /// past opening and its init sequence).
    async fn settled(&self, deadline: Instant) {
        match self {
            EntryHandle::Smpp(h) => {
                let mut st = h.state();
                let _ = tokio::time::timeout_at(
                    deadline,
                    st.wait_for(|s| !matches!(s, BindState::Connecting)),
                )
                .await;
            }
            EntryHandle::Modem(m) => {
                let mut st = m.watch();
                let _ = tokio::time::timeout_at(
                    deadline,
                    st.wait_for(|s| {
                        !matches!(
                            s.state,
                            smsbridge_hw::LinkState::Opening
                                | smsbridge_hw::LinkState::Initializing
                        )
                    }),
                )
                .await;
            }
        }
    }
}

struct EngineLinkStates(Arc<Vec<LinkEntry>>);

fn state_name(s: &BindState) -> (&'static str, String) {
    match s {
        BindState::Connecting => ("CONNECTING", String::new()),
        BindState::Bound { sessions } => ("BOUND", format!("session {sessions}")),
        BindState::Down { error } => ("DOWN", error.to_string()),
        BindState::Closed => ("CLOSED", String::new()),
    }
}

impl LinkStates for EngineLinkStates {
    fn links(&self) -> Vec<LinkState> {
        let mut out = Vec::new();
        for l in self.0.iter() {
            let carrier = || CarrierId::new(l.carrier.as_str());
            match &l.handle {
                EntryHandle::Smpp(handle) => {
                    let states = handle.states();
                    for (i, st) in states.iter().enumerate() {
                        let (state, detail) = state_name(&st.borrow());
                        let link = if states.len() > 1 {
                            format!("{}/{}", l.name, if i == 0 { "tx" } else { "rx" })
                        } else {
                            l.name.clone()
                        };
                        out.push(LinkState {
                            carrier: carrier(),
                            link,
                            state: state.to_owned(),
                            detail,
                        });
                    }
                }
                EntryHandle::Modem(m) => {
                    let (state, detail) = modem::state_name(&m.watch().borrow());
                    out.push(LinkState {
                        carrier: carrier(),
                        link: l.name.clone(),
                        state: state.to_owned(),
                        detail,
                    });
                }
            }
        }
        out
    }
}

/// The simulator's settings from `[simulator]`.
fn simulator_config(sim: &config::SimulatorConfig) -> SmscConfig {
    let outcomes = sim
        .outcomes
        .iter()
        .map(|(stat, weight)| OutcomeWeight {
            stat: match stat {
                ReceiptStat::Delivered => "DELIVRD",
                ReceiptStat::Expired => "EXPIRED",
                ReceiptStat::Deleted => "DELETED",
                ReceiptStat::Undeliverable => "UNDELIV",
                ReceiptStat::Accepted => "ACCEPTD",
                ReceiptStat::Unknown => "UNKNOWN",
                ReceiptStat::Rejected => "REJECTD",
            },
            weight: *weight,
        })
        .collect();
    SmscConfig {
        listen: sim.listen,
        accounts: vec![(sim.system_id.clone(), sim.password.clone())],
        receipt_delay: (sim.receipt_delay_min, sim.receipt_delay_max),
        outcomes,
        id_format: match sim.message_id_format {
            SimulatorIdFormat::Hex => IdFormat::Hex,
            SimulatorIdFormat::Decimal => IdFormat::Decimal,
            SimulatorIdFormat::Uuid => IdFormat::Uuid,
        },
        ..SmscConfig::default()
    }
}

/// `[[carriers.smpp]]` entry `index`, bind `bind`, as a link's settings.
fn link_config(
    carrier: &config::CarrierConfig,
    index: usize,
    bind: u32,
    c: &config::SmppLinkConfig,
) -> Result<smpp::SmppLinkConfig, GatewayError> {
    let key = format!("carriers[{}].smpp[{index}]", carrier.id);
    let tls = tls_config(&key, &c.host, &c.tls)?;
    let password = c
        .password_secret()
        .resolve()
        .map_err(|e| GatewayError::Links(format!("{key}.password: {e}")))?;
    let link = if c.binds > 1 {
        format!("smpp{index}.{bind}")
    } else {
        format!("smpp{index}")
    };
    Ok(smpp::SmppLinkConfig {
        carrier: carrier.id.as_str().to_owned(),
        link,
        host: c.host.clone(),
        port: c.port,
        tls,
        system_id: c.system_id.clone(),
        password,
        system_type: c.system_type.clone(),
        bind_mode: match c.bind {
            config::BindMode::Transceiver => smpp::BindMode::Transceiver,
            config::BindMode::TransmitterReceiver => smpp::BindMode::TransmitterReceiver,
        },
        window: usize::try_from(c.window).unwrap_or(1).max(1),
        enquire_link_interval: c.enquire_link_interval,
        enquire_link_timeout: c.enquire_link_timeout,
        response_timeout: c.response_timeout,
        reconnect: smpp::Backoff {
            initial: c.reconnect.initial_backoff,
            max: c.reconnect.max_backoff,
        },
        max_pdu_size: c.max_pdu_size,
        ..smpp::SmppLinkConfig::default()
    })
}

/// The rustls client settings of `[carriers.smpp] tls`: the CA certificates of `ca_file` as roots (this
/// build carries no system roots), a client certificate when `cert_file` and `key_file` are given.
fn tls_config(
    key: &str,
    host: &str,
    t: &config::TlsConfig,
) -> Result<Option<smpp::TlsConfig>, GatewayError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    if !t.enabled {
        return Ok(None);
    }
    let err = |field: &str, why: String| GatewayError::Links(format!("{key}.tls.{field}: {why}"));
    if t.insecure_skip_verify {
        return Err(err(
            "insecure_skip_verify",
            "not supported by the gateway; give ca_file with the SMSC's CA instead".into(),
        ));
    }
    let Some(ca_file) = &t.ca_file else {
        return Err(err(
            "ca_file",
            "required: this build has no system root certificates".into(),
        ));
    };
    let read = |field: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| err(field, format!("{}: {e}", path.display())))
    };
    let pem = read("ca_file", ca_file)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err("ca_file", format!("{}: {e}", ca_file.display())))?;
        roots
            .add(cert)
            .map_err(|e| err("ca_file", format!("{}: {e}", ca_file.display())))?;
    }
    if roots.is_empty() {
        return Err(err(
            "ca_file",
            format!("{}: no PEM certificate in it", ca_file.display()),
        ));
    }
    let server_name = t.server_name.clone().unwrap_or_else(|| host.to_owned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("enabled", e.to_string()))?
        .with_root_certificates(roots);
    let client = match (&t.cert_file, &t.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let pem = read("cert_file", cert_file)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err("cert_file", format!("{}: {e}", cert_file.display())))?;
            let pem = read("key_file", key_file)?;
            let private = PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|e| err("key_file", format!("{}: {e}", key_file.display())))?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| err("cert_file", e.to_string()))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Some(smpp::TlsConfig {
        client_config: Arc::new(client),
        server_name,
    }))
}

/// Starts everything that moves messages to and from carriers for `components`.
pub async fn start(components: &Components) -> Result<Links, GatewayError> {
    let config: &Config = &components.config;
    let shutdown = components.shutdown.clone();
    // What starts here stops with the gateway, or at once if start fails half-way.
    let started = shutdown.child_token();
    let stop_on_error = started.clone().drop_guard();
    let store = components.store.clone();
    let metrics =
        GatewayMetrics::new().map_err(|e| GatewayError::Links(format!("metrics: {e}")))?;
    let smpp_metrics = SmppMetrics::register(metrics.registry())
        .map_err(|e| GatewayError::Links(format!("metrics: {e}")))?;

    let metrics_task = if config.metrics.enabled {
        let listener = crate::metrics::bind(config.metrics.listen)
            .await
            .map_err(|e| {
                GatewayError::Links(format!("metrics.listen {}: {e}", config.metrics.listen))
            })?;
        Some(crate::metrics::serve(
            listener,
            metrics.clone(),
            store.clone(),
            Arc::clone(&components.api_auth_failures),
            started.clone(),
        ))
    } else {
        None
    };

    let sim = if config.simulator.enabled {
        let sim = Smsc::start(simulator_config(&config.simulator))
            .await
            .map_err(|e| {
                GatewayError::Links(format!("simulator.listen {}: {e}", config.simulator.listen))
            })?;
        // Like a real SMSC, keep receipts for the next session when the gateway restarts.
        sim.control().set_store_and_forward(true);
        tracing::info!(listen = %sim.local_addr(), "built-in SMSC simulator started");
        Some(sim)
    } else {
        None
    };

    let limiters = Limiters::from_config(config)
        .map_err(|e| GatewayError::Links(format!("rate limits: {e}")))?;
    let (receipts, receipt_task) = ReceiptWriter::start(store.clone());
    let links_cancel = started.clone();
    let mut smpp_links: Vec<SmppLink> = Vec::new();
    let mut modem_tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut modem_event_tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut modem_metrics = Vec::new();
    let mut entries: Vec<LinkEntry> = Vec::new();
    let mut dispatchers: Vec<Dispatcher> = Vec::new();
    let mut expiries: Vec<JoinHandle<()>> = Vec::new();
    let mut longest_smpp = Duration::from_secs(10);
    // Per dispatcher: the longest a modem of its carrier may take over one send.
    let mut longest_modem: Vec<Duration> = Vec::new();
    for carrier in &config.carriers {
        let id = CarrierId::new(carrier.id.as_str());
        let mo = MoAssembler::new(
            id.clone(),
            store.clone(),
            metrics.clone(),
            carrier.smpp_reassembly_timeout,
            usize::try_from(carrier.smpp_reassembly_max_pending).unwrap_or(usize::MAX),
        );
        expiries.push(tokio::spawn(Arc::clone(&mo).run_expiry(shutdown.clone())));
        let handler = Arc::new(CarrierInbound::new(
            id.clone(),
            carrier.message_id_format,
            receipts.clone(),
            mo,
            metrics.clone(),
        ));
        let mut dlinks = Vec::new();
        for (index, c) in carrier.smpp.iter().enumerate() {
            for bind in 0..c.binds.max(1) {
                let lc = link_config(carrier, index, bind, c)?;
                longest_smpp = longest_smpp.max(lc.response_timeout);
                let name = lc.link.clone();
                let window = lc.window;
                let link = smpp::spawn(
                    lc,
                    handler.clone(),
                    smpp_metrics.link(carrier.id.as_str(), &name),
                    links_cancel.clone(),
                )
                .map_err(|e| {
                    GatewayError::Links(format!("carriers[{}].smpp[{index}]: {e}", carrier.id))
                })?;
                let handle = link.handle();
                dlinks.push(DispatchLink::new(name.clone(), handle.clone(), window));
                entries.push(LinkEntry {
                    carrier: carrier.id.clone(),
                    name,
                    handle: EntryHandle::Smpp(handle),
                });
                smpp_links.push(link);
            }
        }
        let mut carrier_longest_modem = Duration::ZERO;
        if !carrier.modem.is_empty() {
            // One queue for the events of the carrier's modems; its task ends when they have all stopped.
            let (events_tx, events_rx) = mpsc::channel(modem::EVENT_QUEUE);
            let mut numbers = HashMap::new();
            for (index, c) in carrier.modem.iter().enumerate() {
                let mc = modem::hw_config(carrier, index, c).map_err(GatewayError::Links)?;
                carrier_longest_modem = carrier_longest_modem.max(modem::longest_send(&mc));
                let name = modem::link_name(index);
                // The `to` of its MO messages: the SIM's number, else the link's name.
                numbers.insert(mc.name.clone(), c.number.clone().unwrap_or(name.clone()));
                let (handle, task) =
                    smsbridge_hw::spawn(mc, events_tx.clone(), links_cancel.clone());
                dlinks.push(DispatchLink::modem(
                    name.clone(),
                    handle.clone(),
                    limiters.modem(&carrier.id, index).cloned(),
                ));
                modem_metrics.push((carrier.id.to_string(), name.clone(), handle.clone()));
                entries.push(LinkEntry {
                    carrier: carrier.id.clone(),
                    name,
                    handle: EntryHandle::Modem(handle),
                });
                modem_tasks.push(task);
            }
            drop(events_tx);
            modem_event_tasks.push(tokio::spawn(modem::run_events(
                events_rx,
                Arc::clone(&handler),
                numbers,
            )));
        }
        let Some(limiter) = limiters.carrier(&carrier.id).cloned() else {
            return Err(GatewayError::Links(format!(
                "carriers[{}]: no rate limiter",
                carrier.id
            )));
        };
        if !dlinks.is_empty() {
            dispatchers.push(Dispatcher::new(
                carrier,
                dlinks,
                store.clone(),
                limiter,
                metrics.clone(),
                Duration::ZERO,
            ));
            longest_modem.push(carrier_longest_modem);
        }
    }
    if !modem_metrics.is_empty() {
        modem::ModemCollector::register(metrics.registry(), modem_metrics)
            .map_err(|e| GatewayError::Links(format!("metrics: {e}")))?;
    }
    let smpp_timeout = smpp_submit_timeout(longest_smpp);
    let mut longest_submit = smpp_timeout;
    for (d, modem_send) in dispatchers.iter_mut().zip(longest_modem) {
        d.submit_timeout = submit_timeout(smpp_timeout, modem_send);
        longest_submit = longest_submit.max(d.submit_timeout);
    }

    // Let each link's first attempt settle, so the first Submit after start sees the carriers as they are.
    let deadline = Instant::now() + FIRST_BIND_WAIT;
    for e in &entries {
        e.handle.settled(deadline).await;
    }

    let entries = Arc::new(entries);
    let (carrier_cancel, cancel_task) = cancel::CarrierCanceller::start(
        config,
        entries.iter().filter_map(|e| match &e.handle {
            EntryHandle::Smpp(h) => Some((&e.carrier, h)),
            EntryHandle::Modem(_) => None,
        }),
        store.clone(),
        &metrics,
        smpp_timeout,
        shutdown.clone(),
    )
    .map_err(|e| GatewayError::Links(format!("metrics: {e}")))?;
    let by_carrier: HashMap<config::CarrierId, Vec<usize>> =
        entries
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, e)| {
                m.entry(e.carrier.clone()).or_default().push(i);
                m
            });
    let health_entries = Arc::clone(&entries);
    // A carrier is healthy for failover while any of its links is: a bound SMPP link or a ready modem.
    let health: CarrierHealthFn = Arc::new(move |c: &config::CarrierId| {
        by_carrier.get(c).is_some_and(|links| {
            links
                .iter()
                .any(|&i| health_entries.get(i).is_some_and(|e| e.handle.is_up()))
        })
    });

    let dispatch_tasks: Vec<JoinHandle<()>> = dispatchers
        .into_iter()
        .map(|d| tokio::spawn(d.run(shutdown.clone())))
        .collect();
    let stale_task = tokio::spawn(stale_lease_loop(
        store.clone(),
        stale_lease_age(longest_submit),
        shutdown.clone(),
    ));

    stop_on_error.disarm();
    let task = tokio::spawn(async move {
        shutdown.cancelled().await;
        for t in dispatch_tasks {
            let _ = t.await;
        }
        let _ = stale_task.await;
        let _ = cancel_task.await;
        for t in expiries {
            let _ = t.await;
        }
        for l in smpp_links {
            l.join().await;
        }
        // Modem tasks stop with the links' token; then their event queues close and the last events are
        // committed before the receipt writer goes.
        for t in modem_tasks {
            let _ = t.await;
        }
        for t in modem_event_tasks {
            let _ = t.await;
        }
        drop(receipts);
        let _ = receipt_task.await;
        if let Some(sim) = sim {
            sim.shutdown().await;
        }
        if let Some(t) = metrics_task {
            let _ = t.await;
        }
        Ok(())
    });

    Ok(Links {
        carrier_cancel: Some(carrier_cancel),
        link_states: Some(Arc::new(EngineLinkStates(entries))),
        carrier_health: Some(health),
        task: Some(task),
    })
}

/// How long an SMPP submit may take from hand-over to outcome, given the longest `response_timeout`: the
/// response timeout once written, as long again for the time it may queue in front of a link that is
/// reconnecting, and some slack.
fn smpp_submit_timeout(longest_response_timeout: Duration) -> Duration {
    longest_response_timeout * 2 + Duration::from_secs(5)
}

/// A carrier's submit timeout: the SMPP one, or longer when one of its modems may take longer over a send
/// (`longest_modem_send`, [`modem::longest_send`]: its prompt, +CMGS and the driver's retries, all from the
/// modem's configured timings).
fn submit_timeout(smpp_timeout: Duration, longest_modem_send: Duration) -> Duration {
    smpp_timeout.max(longest_modem_send + Duration::from_secs(5))
}

/// Leases older than this with no outcome are taken back: three times the longest submit timeout of any
/// carrier, so a submit still waiting for its link is never taken for a dead one.
fn stale_lease_age(longest_submit_timeout: Duration) -> Duration {
    longest_submit_timeout * 3
}

/// Takes back, every [`STALE_SWEEP_EVERY`], leases older than `older_than` that got no outcome (a submit
/// task that died): they are requeued as counted resends.
async fn stale_lease_loop(store: Store, older_than: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(STALE_SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                match store.requeue_stale_leases(UnixMs::now().plus_ms(-ms)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(segments = n, "stale leases requeued as resends"),
                    Err(StoreError::Closed) => return,
                    Err(err) => tracing::warn!(error = %err, "requeueing stale leases failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stale-lease age of a config with one modem carrier whose modem has `timing` (TOML lines).
    fn stale_age_with_modem(timing: &str) -> Duration {
        let text = format!(
            "[simulator]\nenabled = false\n\
             [[carriers]]\nid = \"gsm\"\nrate_limit = {{ per_second = 1 }}\n\
             [[carriers.modem]]\ndevice = \"/dev/ttyUSB0\"\n{timing}\n\
             [[routes]]\nprefix = \"*\"\ncarriers = [\"gsm\"]\n"
        );
        let config = Config::from_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
        let carrier = &config.carriers[0];
        let hw = modem::hw_config(carrier, 0, &carrier.modem[0]).unwrap_or_else(|e| panic!("{e}"));
        // No SMPP link: the least SMPP response timeout the engine starts from.
        let smpp = smpp_submit_timeout(Duration::from_secs(10));
        stale_lease_age(submit_timeout(smpp, modem::longest_send(&hw)))
    }

    #[test]
    fn the_configured_modem_send_timeout_sets_the_stale_lease_age() {
        // Defaults: (5s prompt + 2m send) x 4 tries + 3 x 2s pauses, + 5s, x 3.
        assert_eq!(stale_age_with_modem(""), Duration::from_secs(3 * 511));
        // A longer send timeout, no driver retries: (5s + 10m) + 5s, x 3.
        assert_eq!(
            stale_age_with_modem("send_timeout = \"10m\"\nsend_retries = 0"),
            Duration::from_secs(3 * 610)
        );
        // Every part of a send is the modem's own: prompt, send timeout, retries and their pause.
        assert_eq!(
            stale_age_with_modem(
                "send_timeout = \"20s\"\nprompt_timeout = \"1s\"\nsend_retries = 1\nsend_retry_delay = \"3s\""
            ),
            Duration::from_secs(3 * ((1 + 20) * 2 + 3 + 5))
        );
        // A short send never makes the sweep shorter than an SMPP submit's 2 x 10s + 5s.
        assert_eq!(
            stale_age_with_modem(
                "send_timeout = \"1s\"\nprompt_timeout = \"100ms\"\nsend_retries = 0"
            ),
            Duration::from_secs(3 * 25)
        );
    }
}
