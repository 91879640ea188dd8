//! The `smsbridge` command: the gateway and its operator tools.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use clap::{Parser, Subcommand};

use smsbridge::cli;

/// mimalloc instead of glibc's malloc: the gRPC and link paths make many small, short-lived allocations per
/// message, and glibc's malloc/free were ~15 % of the tokio workers' time under load (benches/notes-load.md,
/// round 3).
///
/// Built with mimalloc's `no_thp` feature (Cargo.toml). mimalloc v3 (libmimalloc-sys 0.1.49) reserves a 1 GiB
/// arena and advises it `MADV_HUGEPAGE`; where transparent huge pages are in `madvise` mode (as on the
/// project's machines) the kernel then backs it with 2 MiB pages, which mimalloc's 64 KiB purges do not give
/// back: 47–63 MiB of the gateway's 71–80 MiB peak RSS in the load test were huge pages. Without the advice the
/// peak is 36–43 MiB (glibc's malloc: 33–36 MiB) and the CPU the same within the noise (benches/notes-load.md,
/// "Memory (round 4)"). It has to be a build option: the arena is reserved before `main` runs, so
/// `mi_option_allow_thp` set at start-up comes too late. Measured and not kept: a purge delay shorter than
/// v3's 1 s (`mi_option_purge_delay` 10–250 ms: 1–3 MiB less, 5–7 % more cycles in page faults and TLB
/// shootdowns), `page_full_retain` 0 and collecting more often (no change). Where THP is in `always` mode the
/// kernel uses huge pages for the arena unasked: `MIMALLOC_ALLOW_THP=0` in the service's environment turns
/// THP off for the process there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "smsbridge", version, about = "SMS gateway and carrier bridge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode and encode wire formats (SMPP PDUs, receipts, TPDUs) as JSON.
    Pdu {
        #[command(subcommand)]
        action: PduAction,
    },
    /// SMS text tools.
    Sms {
        #[command(subcommand)]
        action: SmsAction,
    },
    /// AT command tools.
    At {
        #[command(subcommand)]
        action: AtAction,
    },
    /// Run the gateway: load the config, open the store, serve the gRPC API (until Ctrl-C or SIGTERM).
    Serve {
        /// The config file.
        #[arg(long, default_value = "config/smsbridge.toml")]
        config: PathBuf,
    },
    /// Submit one text message through a running gateway; prints the answer as JSON.
    Send {
        /// Destination, E.164 (`+` then 8 to 15 digits).
        #[arg(long)]
        to: String,
        /// The text.
        #[arg(long)]
        text: String,
        /// Sender (number, short code or alphanumeric); default: the route's default sender.
        #[arg(long)]
        from: Option<String>,
        /// Idempotency key: retrying with the same key never sends twice.
        #[arg(long)]
        client_ref: Option<String>,
        /// Wait for the final state and print the message with its receipt.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Follow the event stream: one JSON line per event.
    Events {
        /// Start after this cursor (0: from the first stored event).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Only these kinds (comma-separated or repeated): accepted, queued, submitted, delivered,
        /// undeliverable, expired, rejected, failed, cancelled, mo.
        #[arg(long)]
        kinds: Vec<String>,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Queues per carrier and link states of a running gateway, as JSON.
    Status {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// GSM modem tools.
    Modem {
        #[command(subcommand)]
        action: ModemAction,
    },
    /// Simulators for tests and demos.
    Sim {
        #[command(subcommand)]
        action: SimAction,
    },
}

/// Where the gateway's API is and the token to use.
#[derive(clap::Args)]
struct ConnArgs {
    /// The gateway's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// The API token (default: the SMSBRIDGE_TOKEN environment variable).
    #[arg(long)]
    token: Option<String>,
}

impl ConnArgs {
    fn connection(self) -> cli::client::Connection {
        cli::client::Connection {
            addr: self.addr,
            token: self
                .token
                .or_else(|| std::env::var("SMSBRIDGE_TOKEN").ok())
                .filter(|t| !t.is_empty()),
        }
    }
}

#[derive(Subcommand)]
enum PduAction {
    /// Decode bytes given in hex (or receipt text) to JSON, one object per line.
    Decode {
        #[command(subcommand)]
        format: DecodeFormat,
    },
    /// Encode JSON (as printed by `decode`) back to hex.
    Encode {
        #[command(subcommand)]
        format: EncodeFormat,
    },
}

#[derive(Subcommand)]
enum DecodeFormat {
    /// SMPP 3.4 PDUs: every PDU in the bytes, one JSON line each.
    Smpp {
        /// The bytes in hex (white space and `:` are ignored).
        hex: String,
    },
    /// A delivery receipt's text (`id:... sub:... stat:DELIVRD ...`).
    Dlr {
        /// The receipt text.
        text: String,
    },
    /// A 3GPP TS 23.040 TPDU (SMS-SUBMIT, SMS-DELIVER, SMS-STATUS-REPORT).
    Tpdu {
        /// The hex starts with the service-centre address, as in AT PDU mode.
        #[arg(long)]
        sca: bool,
        /// The TPDU in hex.
        hex: String,
    },
}

#[derive(Subcommand)]
enum EncodeFormat {
    /// One SMPP PDU from its JSON.
    Smpp {
        /// The PDU as JSON, with the field names `pdu decode smpp` prints.
        json: String,
    },
    /// One TPDU from its JSON.
    Tpdu {
        /// Put the service-centre address (`smsc`) in front, as in AT PDU mode.
        #[arg(long)]
        sca: bool,
        /// The TPDU as JSON, with the field names `pdu decode tpdu` prints.
        json: String,
    },
}

#[derive(Subcommand)]
enum SmsAction {
    /// Show how a text is split into SMS segments: encoding, UDH, user data, counts.
    Plan {
        /// Destination number (concatenation references are numbered per destination).
        #[arg(long)]
        to: Option<String>,
        /// The text.
        text: String,
    },
}

#[derive(Subcommand)]
enum AtAction {
    /// Parse a raw modem transcript from stdin into one JSON object per item.
    Parse,
}

#[derive(Subcommand)]
enum ModemAction {
    /// Print identity, SIM state, signal, registration, operator and SMSC number as JSON.
    Probe {
        /// Device path (`/dev/serial/by-id/...`), or `imei:<IMEI>` / `iccid:<ICCID>` to find it.
        device: String,
        /// SIM PIN, when the SIM asks for one.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Send one message (PDU mode); print its TP-MRs and, when asked, its status reports.
    Send {
        /// Device path, or `imei:<IMEI>` / `iccid:<ICCID>`.
        device: String,
        /// Destination number.
        number: String,
        /// The text.
        text: String,
        /// Ask for a status report and wait for it.
        #[arg(long)]
        wait_report: bool,
        /// Seconds to wait for the report.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// SIM PIN, when the SIM asks for one.
        #[arg(long)]
        pin: Option<String>,
    },
}

#[derive(Subcommand)]
enum SimAction {
    /// An SMPP 3.4 SMSC: binds, submits, receipts, MO, faults.
    Smsc(smsbridge::sim::cli::SmscArgs),
    /// A simulated GSM modem on a pseudo-terminal: prints its path, serves until interrupted.
    Modem {
        /// Milliseconds between a send and its status report.
        #[arg(long, default_value_t = 1000)]
        report_delay_ms: u64,
        /// Keep a symbolic link at this path pointing at the pseudo-terminal.
        #[arg(long)]
        link: Option<std::path::PathBuf>,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
        /// Stop when standard input closes.
        #[arg(long)]
        until_stdin_closes: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Pdu { action } => match action {
            PduAction::Decode { format } => match format {
                DecodeFormat::Smpp { hex } => cli::smpp::decode(&hex, &mut out),
                DecodeFormat::Dlr { text } => cli::dlr::decode(&text, &mut out),
                DecodeFormat::Tpdu { sca, hex } => cli::tpdu::decode(&hex, sca, &mut out),
            },
            PduAction::Encode { format } => match format {
                EncodeFormat::Smpp { json } => cli::smpp::encode(&json, &mut out),
                EncodeFormat::Tpdu { sca, json } => cli::tpdu::encode(&json, sca, &mut out),
            },
        },
        Command::Sms { action } => match action {
            SmsAction::Plan { to, text } => cli::sms_plan::plan(&text, to.as_deref(), &mut out),
        },
        Command::At { action } => match action {
            AtAction::Parse => cli::at::parse(&mut io::stdin().lock(), &mut out),
        },
        Command::Serve { config } => serve(&config),
        Command::Send {
            to,
            text,
            from,
            client_ref,
            wait,
            timeout,
            conn,
        } => cli::client::send(
            &conn.connection(),
            &cli::client::SendArgs {
                to,
                text,
                from,
                client_ref,
                wait,
                wait_timeout: Duration::from_secs(timeout),
            },
            &mut out,
        ),
        Command::Events {
            after,
            kinds,
            limit,
            conn,
        } => cli::client::events(&conn.connection(), after, &kinds, limit, &mut out),
        Command::Status { conn } => cli::client::status(&conn.connection(), &mut out),
        Command::Modem { action } => match action {
            ModemAction::Probe { device, pin } => {
                cli::modem::probe(&device, pin.as_deref(), &mut out)
            }
            ModemAction::Send {
                device,
                number,
                text,
                wait_report,
                timeout,
                pin,
            } => cli::modem::send(
                &device,
                &number,
                &text,
                wait_report,
                std::time::Duration::from_secs(timeout),
                pin.as_deref(),
                &mut out,
            ),
        },
        Command::Sim { action } => match action {
            SimAction::Smsc(args) => smsbridge::sim::cli::smsc(args),
            SimAction::Modem {
                report_delay_ms,
                link,
                seconds,
                until_stdin_closes,
            } => cli::modem::sim(
                std::time::Duration::from_millis(report_delay_ms),
                link,
                seconds.map(std::time::Duration::from_secs),
                until_stdin_closes,
                &mut out,
            ),
        },
    };
    let _ = out.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("smsbridge: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// `smsbridge serve`: runs the gateway until Ctrl-C or SIGTERM.
fn serve(config_path: &Path) -> anyhow::Result<u8> {
    let config = smsbridge::config::Config::load(config_path)?;
    init_logging(&config.log)?;
    if config.simulator.enabled {
        eprintln!(
            "smsbridge: built-in SMSC simulator on {} (carrier links with its credentials bind to it)",
            config.simulator.listen
        );
    }
    for carrier in &config.carriers {
        for link in &carrier.smpp {
            eprintln!(
                "smsbridge: carrier {}: SMPP {}:{} x{} bind(s), {}/s",
                carrier.id, link.host, link.port, link.binds, carrier.rate_limit.per_second
            );
        }
        for (index, modem) in carrier.modem.iter().enumerate() {
            let found_by = match (&modem.device, &modem.imei, &modem.iccid) {
                (Some(device), _, _) => device.display().to_string(),
                (_, Some(imei), _) => format!("IMEI {imei}"),
                (_, _, Some(iccid)) => format!("ICCID {iccid}"),
                _ => String::new(),
            };
            eprintln!(
                "smsbridge: carrier {}: GSM modem{index} at {found_by}, {}/s",
                carrier.id, carrier.rate_limit.per_second
            );
        }
    }
    if config.metrics.enabled {
        eprintln!(
            "smsbridge: metrics at http://{}/metrics",
            config.metrics.listen
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let gateway = smsbridge::gateway::Gateway::start(config, shutdown.clone()).await?;
        eprintln!(
            "smsbridge: gRPC API listening on {}",
            gateway
                .api_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|e| format!("? ({e})"))
        );
        let signals = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                wait_for_stop_signal().await;
                eprintln!("smsbridge: shutting down");
                shutdown.cancel();
            }
        });
        let result = gateway.run().await;
        signals.abort();
        result?;
        Ok(0)
    })
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs and spans from `tracing` to stderr, as text or one JSON object per line (`[log]` in the config;
/// `RUST_LOG`, when set, overrides the level).
fn init_logging(log: &smsbridge::config::LogConfig) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .with_context(|| format!("RUST_LOG: not a valid log filter: {directives:?}"))?,
        _ => EnvFilter::try_new(&log.level)
            .with_context(|| format!("log.level: not a valid log filter: {:?}", log.level))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr);
    let installed = if log.json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    installed.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}
