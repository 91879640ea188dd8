//! The link engine: starts the built-in SMSC simulator when configured, the SMPP links of every carrier, one
//! dispatcher per carrier, the inbound handlers (receipts, MO), the lease supervisor and the metrics endpoint;
//! and gives the gateway the hooks it needs ([`crate::gateway::Links`]).
//!
//! Shutdown: the gateway cancels its token once the API has stopped. Dispatchers stop claiming and record
//! the outcome of every submit still in flight; links drain their windows and unbind; the inbound writer
//! commits what it holds; then the simulator and the metrics endpoint stop. Only then is the store closed.

pub mod cancel;
pub mod dispatcher;
pub mod inbound;
pub mod pdu;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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
    handle: LinkHandle,
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
            for (i, st) in l.handle.states().iter().enumerate() {
                let (state, detail) = state_name(&st.borrow());
                let link = if l.handle.states().len() > 1 {
                    format!("{}/{}", l.name, if i == 0 { "tx" } else { "rx" })
                } else {
                    l.name.clone()
                };
                out.push(LinkState {
                    carrier: CarrierId::new(l.carrier.as_str()),
                    link,
                    state: state.to_owned(),
                    detail,
                });
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
    let mut entries: Vec<LinkEntry> = Vec::new();
    let mut dispatchers: Vec<Dispatcher> = Vec::new();
    let mut expiries: Vec<JoinHandle<()>> = Vec::new();
    let mut longest_timeout = Duration::from_secs(10);
    for carrier in &config.carriers {
        let id = CarrierId::new(carrier.id.as_str());
        let mo = MoAssembler::new(id.clone(), store.clone(), metrics.clone());
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
                longest_timeout = longest_timeout.max(lc.response_timeout);
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
                    handle,
                });
                smpp_links.push(link);
            }
        }
        if !carrier.modem.is_empty() {
            tracing::warn!(carrier = %carrier.id, "GSM modem links are not wired into the gateway yet");
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
        }
    }
    // A submit waits for its response at most the response timeout once written; allow as long again for
    // the time it may queue in front of a link that is reconnecting.
    let submit_timeout = longest_timeout * 2 + Duration::from_secs(5);
    for d in &mut dispatchers {
        d.submit_timeout = submit_timeout;
    }

    // Let each link's first attempt settle, so the first Submit after start sees the carriers as they are.
    let deadline = Instant::now() + FIRST_BIND_WAIT;
    for e in &entries {
        let mut st = e.handle.state();
        let _ = tokio::time::timeout_at(
            deadline,
            st.wait_for(|s| !matches!(s, BindState::Connecting)),
        )
        .await;
    }

    let entries = Arc::new(entries);
    let (carrier_cancel, cancel_task) = cancel::CarrierCanceller::start(
        config,
        entries.iter().map(|e| (&e.carrier, &e.handle)),
        store.clone(),
        &metrics,
        submit_timeout,
        shutdown.clone(),
    )
    .map_err(|e| GatewayError::Links(format!("metrics: {e}")))?;
    let by_carrier: HashMap<config::CarrierId, Vec<LinkHandle>> =
        entries.iter().fold(HashMap::new(), |mut m, e| {
            m.entry(e.carrier.clone())
                .or_default()
                .push(e.handle.clone());
            m
        });
    let health: CarrierHealthFn = Arc::new(move |c: &config::CarrierId| {
        by_carrier
            .get(c)
            .is_some_and(|links| links.iter().any(LinkHandle::is_bound))
    });

    let dispatch_tasks: Vec<JoinHandle<()>> = dispatchers
        .into_iter()
        .map(|d| tokio::spawn(d.run(shutdown.clone())))
        .collect();
    let stale_task = tokio::spawn(stale_lease_loop(
        store.clone(),
        submit_timeout * 3,
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
