//! Opening the modem's serial device with tokio-serial, by path or by the identity the modem reports
//! (`AT+CGSN` IMEI, `AT+CCID` ICCID) among candidate ports.

use std::path::{Path, PathBuf};

use smsbridge_protocol::at::{Command, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

use crate::config::{DeviceSelector, FlowControl, ModemConfig, default_candidates};
use crate::session::Session;

/// A byte stream to a modem.
pub trait ModemIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ModemIo for T {}

/// Why no device could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The serial port could not be opened or configured.
    #[error("cannot open {path}: {source}")]
    Serial {
        /// The device.
        path: PathBuf,
        /// What the OS said.
        source: tokio_serial::Error,
    },
    /// Another link (or another gateway) holds the device.
    #[error("{path} is in use by another link")]
    Busy {
        /// The device.
        path: PathBuf,
    },
    /// No candidate port answered with the wanted identity.
    #[error("no modem with {what} {value} among {tried} candidate port(s)")]
    NotFound {
        /// `IMEI` or `ICCID`.
        what: &'static str,
        /// The identity looked for.
        value: String,
        /// Ports probed.
        tried: usize,
    },
}

/// Opens one serial device with the config's baud rate and flow control.
pub fn open_path(path: &Path, cfg: &ModemConfig) -> Result<SerialStream, OpenError> {
    let flow = match cfg.flow_control {
        FlowControl::None => tokio_serial::FlowControl::None,
        FlowControl::Software => tokio_serial::FlowControl::Software,
        FlowControl::Hardware => tokio_serial::FlowControl::Hardware,
    };
    let path_str = path.to_string_lossy().into_owned();
    let port = tokio_serial::new(path_str, cfg.baud_rate)
        .flow_control(flow)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .open_native_async()
        .map_err(|source| OpenError::Serial {
            path: path.to_path_buf(),
            source,
        })?;
    // One owner per modem: an advisory lock that our other links, probes and gateway instances respect
    // (TIOCEXCL, which serialport sets, does not stop root). A second open fails instead of writing AT
    // commands into a session that is not its own.
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor the port owns; released when the port is closed.
    if unsafe { libc::flock(port.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(OpenError::Busy {
            path: path.to_path_buf(),
        });
    }
    Ok(port)
}

/// The candidate ports: files as given, directories expanded, `*` at the end of a name matched as a prefix.
pub fn expand_candidates(candidates: &[PathBuf]) -> Vec<PathBuf> {
    let list = if candidates.is_empty() {
        default_candidates()
    } else {
        candidates.to_vec()
    };
    let mut out = Vec::new();
    for c in list {
        let name = c
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(prefix) = name.strip_suffix('*') {
            let dir = c.parent().unwrap_or(Path::new("/"));
            if let Ok(rd) = std::fs::read_dir(dir) {
                let mut found: Vec<PathBuf> = rd
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                    .map(|e| e.path())
                    .collect();
                found.sort();
                out.extend(found);
            }
        } else if c.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&c) {
                let mut found: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
                found.sort();
                out.extend(found);
            }
        } else if c.exists() {
            out.push(c);
        }
    }
    out.dedup();
    out
}

/// Asks the modem on `path` for its IMEI or ICCID, each command limited to the config's `probe_timeout`
/// (a port with something else behind it must not hold up the search).
async fn probe_identity(path: &Path, cfg: &ModemConfig, iccid: bool) -> Option<String> {
    let port = open_path(path, cfg).ok()?;
    let mut s = Session::new(port);
    let t = cfg.probe_timeout;
    s.command(&Command::at(), t).await.ok()?;
    let _ = s.command(&Command::echo(false), t).await;
    let cmd = if iccid {
        Command::ccid()
    } else {
        Command::cgsn()
    };
    let ans = s.command(&cmd, t).await.ok()?;
    ans.info.into_iter().find_map(|r| match r {
        Response::Cgsn { sn } if !iccid => Some(sn),
        Response::Ccid { iccid: v } if iccid => Some(v),
        Response::Raw { line } => Some(line),
        _ => None,
    })
}

/// Opens the device the selector names; returns it and the path used.
pub async fn open(cfg: &ModemConfig) -> Result<(Box<dyn ModemIo>, PathBuf), OpenError> {
    let (want, candidates, iccid) = match &cfg.device {
        DeviceSelector::Path(p) => {
            let port = open_path(p, cfg)?;
            return Ok((Box::new(port), p.clone()));
        }
        DeviceSelector::Imei { imei, candidates } => (imei, candidates, false),
        DeviceSelector::Iccid { iccid, candidates } => (iccid, candidates, true),
    };
    let ports = expand_candidates(candidates);
    for p in &ports {
        let got = probe_identity(p, cfg, iccid).await;
        if got.as_deref().map(str::trim) == Some(want.as_str()) {
            let port = open_path(p, cfg)?;
            return Ok((Box::new(port), p.clone()));
        }
    }
    Err(OpenError::NotFound {
        what: if iccid { "ICCID" } else { "IMEI" },
        value: want.clone(),
        tried: ports.len(),
    })
}
