//! The `smsbridge` command: the gateway and its operator tools.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use smsbridge::cli;

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
    /// Simulators of the gateway's peers.
    Sim {
        #[command(subcommand)]
        action: SimAction,
    },
}

#[derive(Subcommand)]
enum SimAction {
    /// An SMPP 3.4 SMSC: binds, submits, receipts, MO, faults.
    Smsc(smsbridge::sim::cli::SmscArgs),
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
        Command::Sim { action } => match action {
            SimAction::Smsc(args) => smsbridge::sim::cli::smsc(args),
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
