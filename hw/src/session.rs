//! The AT session engine: one command in flight at a time over any `AsyncRead + AsyncWrite` byte stream,
//! a deadline per command, echo tolerated, and unsolicited result codes collected whenever they arrive,
//! also in the middle of a command's answer (ITU-T V.250 §5, TS 27.005 §3.5.1 for the `> ` prompt).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use smsbridge_protocol::at::{AtParser, Command, ESC, FinalResult, Item, Response, SendPdu};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

/// Why a command got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Reading or writing the device failed (unplugged, driver gone).
    #[error("device I/O error: {0}")]
    Io(#[from] io::Error),
    /// The device closed (end of stream).
    #[error("device closed")]
    Eof,
    /// No final result code within the command's time.
    #[error("no answer to {command} within {after:?}")]
    Timeout {
        /// The command line.
        command: String,
        /// The time allowed.
        after: Duration,
        /// For a send: whether the body had been written (the message may have gone out).
        body_written: bool,
    },
}

impl SessionError {
    /// The device is gone: reopen it.
    pub fn is_device_lost(&self) -> bool {
        matches!(self, SessionError::Io(_) | SessionError::Eof)
    }
}

/// The answer to one command: its information responses and its final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Information responses, in order.
    pub info: Vec<Response>,
    /// `OK`, `ERROR`, `+CME ERROR`, ...
    pub result: FinalResult,
}

impl Answer {
    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// An AT session over a byte stream. Not shared: the modem task owns it.
#[derive(Debug)]
pub struct Session<S> {
    io: S,
    parser: AtParser,
    buf: Vec<u8>,
    urcs: VecDeque<Response>,
    /// Bytes read in total, for diagnostics.
    read_total: u64,
}

/// At most this many URCs are kept unprocessed; older ones are dropped (with a warning) rather than
/// growing without bound while the modem task is busy.
const MAX_QUEUED_URCS: usize = 256;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// A session over `io`.
    pub fn new(io: S) -> Session<S> {
        Session {
            io,
            parser: AtParser::new(),
            buf: vec![0; 2048],
            urcs: VecDeque::new(),
            read_total: 0,
        }
    }

    /// Reads once from the device and parses what came (cancel-safe: nothing is lost when the future is
    /// dropped before it completes). Used while idle to collect URCs.
    pub async fn fill(&mut self) -> Result<(), SessionError> {
        let n = self.io.read(&mut self.buf).await?;
        if n == 0 {
            return Err(SessionError::Eof);
        }
        self.read_total = self.read_total.saturating_add(n as u64);
        let chunk = self.buf.get(..n).unwrap_or_default();
        self.parser.feed(chunk);
        self.drain_idle();
        Ok(())
    }

    /// Items parsed while no command is in flight: URCs are kept, the rest (stray finals, echo, noise)
    /// dropped.
    fn drain_idle(&mut self) {
        while let Some(item) = self.parser.next_item() {
            match item {
                Item::Urc(r) => self.push_urc(r),
                Item::Info(r) => tracing::debug!(?r, "answer with no command in flight"),
                other => tracing::trace!(?other, "ignored while idle"),
            }
        }
    }

    fn push_urc(&mut self, r: Response) {
        if self.urcs.len() >= MAX_QUEUED_URCS {
            tracing::warn!("URC queue full; dropping the oldest");
            self.urcs.pop_front();
        }
        self.urcs.push_back(r);
    }

    /// Takes the URCs received so far.
    pub fn take_urcs(&mut self) -> Vec<Response> {
        self.urcs.drain(..).collect()
    }

    /// Whether URCs are waiting.
    pub fn has_urcs(&self) -> bool {
        !self.urcs.is_empty()
    }

    async fn read_until(&mut self, deadline: Instant) -> Result<bool, SessionError> {
        match timeout_at(deadline, self.io.read(&mut self.buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => Err(SessionError::Eof),
            Ok(Ok(n)) => {
                self.read_total = self.read_total.saturating_add(n as u64);
                let chunk = self.buf.get(..n).unwrap_or_default();
                self.parser.feed(chunk);
                Ok(true)
            }
            Ok(Err(e)) => Err(SessionError::Io(e)),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Sends one command and waits up to `timeout` for its final result code. URCs that arrive meanwhile
    /// are kept for [`Session::take_urcs`].
    pub async fn command(
        &mut self,
        cmd: &Command,
        timeout: Duration,
    ) -> Result<Answer, SessionError> {
        // Whatever arrived before this command is not part of its answer.
        self.drain_idle();
        self.parser.expect(cmd);
        self.write(cmd.bytes()).await?;
        let deadline = Instant::now() + timeout;
        let mut info = Vec::new();
        loop {
            while let Some(item) = self.parser.next_item() {
                match item {
                    Item::Info(r) => info.push(r),
                    Item::Urc(r) => self.push_urc(r),
                    Item::Final(result) => return Ok(Answer { info, result }),
                    Item::Echo(_) | Item::Prompt | Item::Error(_) => {}
                }
            }
            if !self.read_until(deadline).await? {
                self.parser.clear_expect();
                return Err(SessionError::Timeout {
                    command: cmd.line().to_owned(),
                    after: timeout,
                    body_written: false,
                });
            }
        }
    }

    /// Sends `AT+CMGS=<n>`, waits up to `prompt_timeout` for the `> ` prompt, writes the PDU and Ctrl-Z, and
    /// waits up to `timeout` for the final result code (TS 27.005 §3.5.1). A final result code instead of
    /// the prompt is returned as the answer.
    pub async fn send_pdu(
        &mut self,
        send: &SendPdu,
        prompt_timeout: Duration,
        timeout: Duration,
    ) -> Result<Answer, SessionError> {
        self.drain_idle();
        self.parser.expect(&send.command);
        self.write(send.command.bytes()).await?;
        let prompt_deadline = Instant::now() + prompt_timeout;
        let mut info = Vec::new();
        let mut prompted = false;
        while !prompted {
            while let Some(item) = self.parser.next_item() {
                match item {
                    Item::Prompt => {
                        prompted = true;
                        break;
                    }
                    // `OK` cannot answer `+CMGS=<n>` before the prompt: it is noise or a late answer
                    // to something else. Keep waiting for the prompt.
                    Item::Final(FinalResult::Ok) => {}
                    Item::Final(result) => {
                        // If the prompt still comes after this, ESC abandons it so that the next command
                        // is not taken as the message body.
                        self.write(&[ESC]).await?;
                        return Ok(Answer { info, result });
                    }
                    Item::Info(r) => info.push(r),
                    Item::Urc(r) => self.push_urc(r),
                    Item::Echo(_) | Item::Error(_) => {}
                }
            }
            if !prompted && !self.read_until(prompt_deadline).await? {
                // Leave the prompt state in case it comes late: ESC abandons the message.
                let _ = self.write(&[ESC]).await;
                self.parser.clear_expect();
                return Err(SessionError::Timeout {
                    command: send.command.line().to_owned(),
                    after: prompt_timeout,
                    body_written: false,
                });
            }
        }
        self.write(&send.body).await?;
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(item) = self.parser.next_item() {
                match item {
                    Item::Info(r) => info.push(r),
                    Item::Urc(r) => self.push_urc(r),
                    Item::Final(result) => return Ok(Answer { info, result }),
                    Item::Echo(_) | Item::Prompt | Item::Error(_) => {}
                }
            }
            if !self.read_until(deadline).await? {
                self.parser.clear_expect();
                return Err(SessionError::Timeout {
                    command: send.command.line().to_owned(),
                    after: timeout,
                    body_written: true,
                });
            }
        }
    }

    /// Writes raw bytes (ESC to leave a stuck prompt).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.write(bytes).await
    }

    /// Reads and drops whatever the device sends for `quiet` (URCs are kept), bounded by `max`.
    pub async fn settle(&mut self, quiet: Duration, max: Duration) -> Result<(), SessionError> {
        let end = Instant::now() + max;
        loop {
            let until = (Instant::now() + quiet).min(end);
            if !self.read_until(until).await? || Instant::now() >= end {
                break;
            }
        }
        self.parser.clear_expect();
        self.drain_idle();
        Ok(())
    }

    /// The stream, e.g. to close it.
    pub fn into_inner(self) -> S {
        self.io
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsbridge_protocol::at::CTRL_Z;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    /// A scripted modem: for each expected command prefix, reads until it arrives, then writes the answer.
    fn peer(
        mut io: DuplexStream,
        script: Vec<(&'static [u8], &'static [u8])>,
    ) -> tokio::task::JoinHandle<Vec<u8>> {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            for (wait_for, answer) in script {
                while !seen.windows(wait_for.len()).any(|w| w == wait_for) {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => return seen,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = io.write_all(answer).await;
            }
            seen
        })
    }

    #[tokio::test]
    async fn echo_and_urc_inside_an_answer() {
        let (a, b) = duplex(1024);
        let p = peer(
            b,
            vec![(
                b"AT+CSQ\r",
                b"AT+CSQ\r\r\n+CMTI: \"SM\",3\r\n+CSQ: 20,99\r\n\r\n+CDSI: \"SM\",4\r\nOK\r\n",
            )],
        );
        let mut s = Session::new(a);
        let ans = s.command(&Command::csq(), Duration::from_secs(2)).await;
        let ans = ans.map_err(|e| e.to_string());
        assert_eq!(
            ans,
            Ok(Answer {
                info: vec![Response::Csq { rssi: 20, ber: 99 }],
                result: FinalResult::Ok
            })
        );
        assert_eq!(
            s.take_urcs(),
            vec![
                Response::Cmti {
                    mem: "SM".into(),
                    index: 3
                },
                Response::Cdsi {
                    mem: "SM".into(),
                    index: 4
                }
            ]
        );
        drop(s);
        let _ = p.await;
    }

    #[tokio::test]
    async fn send_pdu_writes_body_after_prompt() {
        let (a, b) = duplex(1024);
        let p = peer(
            b,
            vec![
                (b"AT+CMGS=2\r", b"\r\n> "),
                (b"\x1a", b"\r\n+CMGS: 7\r\n\r\nOK\r\n"),
            ],
        );
        let mut s = Session::new(a);
        let send = Command::cmgs_pdu(None, &[0x11, 0x00]).map_err(|e| e.to_string());
        let Ok(send) = send else { panic!("{send:?}") };
        let ans = s
            .send_pdu(&send, Duration::from_secs(2), Duration::from_secs(2))
            .await
            .map_err(|e| e.to_string());
        assert_eq!(
            ans.map(|a| a.info),
            Ok(vec![Response::Cmgs {
                mr: 7,
                ackpdu: None
            }])
        );
        drop(s);
        let wire = p.await.unwrap_or_default();
        let mut expected = b"AT+CMGS=2\r001100".to_vec();
        expected.push(CTRL_Z);
        assert_eq!(wire, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_times_out_and_eof_is_reported() {
        let (a, b) = duplex(1024);
        let mut s = Session::new(a);
        let r = s.command(&Command::at(), Duration::from_secs(3)).await;
        assert!(matches!(
            r,
            Err(SessionError::Timeout {
                body_written: false,
                ..
            })
        ));
        drop(b);
        let r = s.command(&Command::at(), Duration::from_secs(3)).await;
        assert!(r.as_ref().is_err_and(SessionError::is_device_lost), "{r:?}");
    }
}
