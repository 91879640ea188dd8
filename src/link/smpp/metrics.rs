//! Per-link Prometheus metrics, labelled by carrier and link.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use smsbridge_protocol::smpp::CommandStatus;

/// The metric families of all SMPP links, registered once into a registry; [`SmppMetrics::link`] gives one
/// link's labelled handles.
#[derive(Clone)]
pub struct SmppMetrics {
    submits: IntCounterVec,
    responses: IntCounterVec,
    latency: HistogramVec,
    window: IntGaugeVec,
    throttles: IntCounterVec,
    reconnects: IntCounterVec,
    receipts: IntCounterVec,
    mos: IntCounterVec,
    timeouts: IntCounterVec,
    malformed: IntCounterVec,
    bind_failures: IntCounterVec,
}

impl SmppMetrics {
    /// Creates the families and registers them into `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<SmppMetrics> {
        let cl = &["carrier", "link"];
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "smsbridge_smpp_response_seconds",
                "Time from writing a submit to reading its response",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            cl,
        )?;
        registry.register(Box::new(latency.clone()))?;
        let window = IntGaugeVec::new(
            Opts::new(
                "smsbridge_smpp_window_in_flight",
                "Submits written and not yet answered",
            ),
            cl,
        )?;
        registry.register(Box::new(window.clone()))?;
        Ok(SmppMetrics {
            submits: counter("smsbridge_smpp_submits_total", "Submits written", cl)?,
            responses: counter(
                "smsbridge_smpp_responses_total",
                "Submit responses by command_status",
                &["carrier", "link", "status"],
            )?,
            latency,
            window,
            throttles: counter(
                "smsbridge_smpp_throttles_total",
                "ESME_RTHROTTLED / ESME_RMSGQFUL answers (link paused)",
                cl,
            )?,
            reconnects: counter(
                "smsbridge_smpp_reconnects_total",
                "Sessions re-established",
                cl,
            )?,
            receipts: counter(
                "smsbridge_smpp_receipts_total",
                "Delivery receipts received",
                cl,
            )?,
            mos: counter("smsbridge_smpp_mo_total", "MO messages received", cl)?,
            timeouts: counter(
                "smsbridge_smpp_response_timeouts_total",
                "Submits handed back as outcome unknown after the response timeout",
                cl,
            )?,
            malformed: counter(
                "smsbridge_smpp_malformed_pdus_total",
                "Malformed PDUs received from the peer",
                cl,
            )?,
            bind_failures: counter(
                "smsbridge_smpp_bind_failures_total",
                "Bind attempts that failed, by reason",
                &["carrier", "link", "reason"],
            )?,
        })
    }

    /// One link's handles.
    pub fn link(&self, carrier: &str, link: &str) -> LinkMetrics {
        let l = &[carrier, link];
        LinkMetrics {
            carrier: carrier.to_string(),
            link: link.to_string(),
            submits: self.submits.with_label_values(l),
            responses: self.responses.clone(),
            ok_responses: self.responses.with_label_values(&[
                carrier,
                link,
                CommandStatus::ESME_ROK.name(),
            ]),
            latency: self.latency.with_label_values(l),
            window: self.window.with_label_values(l),
            throttles: self.throttles.with_label_values(l),
            reconnects: self.reconnects.with_label_values(l),
            receipts: self.receipts.with_label_values(l),
            mos: self.mos.with_label_values(l),
            timeouts: self.timeouts.with_label_values(l),
            malformed: self.malformed.with_label_values(l),
            bind_failures: self.bind_failures.clone(),
        }
    }
}

/// The metric handles of one link.
#[derive(Clone)]
pub struct LinkMetrics {
    carrier: String,
    link: String,
    /// Submits written.
    pub submits: IntCounter,
    responses: IntCounterVec,
    ok_responses: IntCounter,
    /// Response latency.
    pub latency: Histogram,
    /// Window occupancy.
    pub window: IntGauge,
    /// Throttle answers.
    pub throttles: IntCounter,
    /// Reconnects.
    pub reconnects: IntCounter,
    /// Receipts received.
    pub receipts: IntCounter,
    /// MO messages received.
    pub mos: IntCounter,
    /// Response timeouts.
    pub timeouts: IntCounter,
    /// Malformed PDUs from the peer.
    pub malformed: IntCounter,
    bind_failures: IntCounterVec,
}

impl LinkMetrics {
    /// Counts one submit response.
    pub fn response(&self, status: CommandStatus) {
        if status.is_ok() {
            self.ok_responses.inc();
            return;
        }
        self.responses
            .with_label_values(&[&self.carrier, &self.link, status.name()])
            .inc();
    }

    /// Counts one failed bind attempt.
    pub fn bind_failure(&self, reason: &str) {
        self.bind_failures
            .with_label_values(&[&self.carrier, &self.link, reason])
            .inc();
    }
}
