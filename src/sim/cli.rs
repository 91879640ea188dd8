//! `smsbridge sim smsc`: runs the SMSC simulator until Ctrl-C, printing its counters every few seconds and
//! at exit.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::smsc::{IdFormat, Smsc, SmscConfig, parse_outcomes};

/// Options of `smsbridge sim smsc`.
#[derive(Debug, clap::Args)]
pub struct SmscArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// Receipt delay in milliseconds, `MS` or `MIN..MAX` (uniform).
    #[arg(long, default_value = "0")]
    pub receipt_delay: String,
    /// Receipt outcome mix, `STAT=weight,...` (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD).
    #[arg(long, default_value = "DELIVRD=1")]
    pub outcomes: String,
    /// Message id form: hex, decimal, uuid, or padded-hex (16 upper-case digits, recognised by cancel_sm and
    /// query_sm only exactly as issued).
    #[arg(long, default_value = "hex")]
    pub id_format: IdFormat,
    /// ESME_RTHROTTLED above this many submits per second (0: never).
    #[arg(long, default_value_t = 0)]
    pub throttle: u32,
    /// Accepted account `system_id:password` (repeatable; none: accept any).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Send receipts before the submit_sm_resp (with a zero receipt delay).
    #[arg(long)]
    pub receipts_first: bool,
    /// Worker threads; 1 runs everything on a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds between counter lines (0: only at exit).
    #[arg(long, default_value_t = 5)]
    pub stats_every: u64,
}

fn parse_delay(s: &str) -> anyhow::Result<(Duration, Duration)> {
    let ms = |v: &str| -> anyhow::Result<Duration> {
        let n: u64 = v
            .trim()
            .parse()
            .with_context(|| format!("--receipt-delay: {v:?} is not a number of milliseconds"))?;
        Ok(Duration::from_millis(n))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (ms(a)?, ms(b)?);
            anyhow::ensure!(
                a <= b,
                "--receipt-delay: {s:?}: the minimum is above the maximum"
            );
            Ok((a, b))
        }
        None => {
            let d = ms(s)?;
            Ok((d, d))
        }
    }
}

/// Builds the simulator's configuration from the options.
pub fn config(args: &SmscArgs) -> anyhow::Result<SmscConfig> {
    let accounts = args
        .accounts
        .iter()
        .map(|a| {
            a.split_once(':')
                .map(|(s, p)| (s.to_string(), p.to_string()))
                .with_context(|| format!("--account {a:?}: expected system_id:password"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SmscConfig {
        listen: args.listen,
        accounts,
        receipt_delay: parse_delay(&args.receipt_delay)?,
        outcomes: parse_outcomes(&args.outcomes).map_err(|e| anyhow::anyhow!("--outcomes: {e}"))?,
        id_format: args.id_format,
        throttle_per_sec: args.throttle,
        receipts_before_resp: args.receipts_first,
        ..SmscConfig::default()
    })
}

/// Runs the simulator until Ctrl-C.
pub fn smsc(args: SmscArgs) -> anyhow::Result<u8> {
    let config = config(&args)?;
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        let sim = Smsc::start(config)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("LISTENING {}", sim.local_addr().port());
        let counters = sim.counters();
        let every = Duration::from_secs(args.stats_every.max(1));
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick(), if args.stats_every > 0 => println!("sim smsc: {}", counters.summary()),
            }
        }
        sim.shutdown().await;
        println!("sim smsc (exit): {}", counters.summary());
        anyhow::Ok(0)
    })
}
