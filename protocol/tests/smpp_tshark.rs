//! Wireshark's SMPP dissector reads what we encode: one PDU of every operation in hand-built
//! Ethernet/IPv4/TCP frames on port 2775 (with a TCP handshake and correct sequence numbers), written to a
//! pcap and read back with `tshark`. Asserts no malformed packet or expert warning, and the field values.
//!
//! Needs `/usr/bin/tshark`: when it is missing the test is skipped, unless `SMSBRIDGE_REQUIRE_INTEROP=1`.

use std::borrow::Cow;
use std::process::Command;

use smsbridge_protocol::smpp::*;

fn o(s: &str) -> Octets<'static> {
    Cow::Owned(s.as_bytes().to_vec())
}

/// (PDU, sent by the ESME?) for every SMPP 3.4 operation.
fn conversation() -> Vec<(Pdu<'static>, bool)> {
    let bind = Bind {
        system_id: o("smsbridge"),
        password: o("secret08"),
        system_type: o("SUBMIT1"),
        interface_version: 0x34,
        addr_ton: Ton::INTERNATIONAL,
        addr_npi: Npi::ISDN,
        address_range: o(""),
        tlvs: Tlvs::new(),
    };
    let bind_resp = BindResp {
        system_id: Some(o("SMSC01")),
        tlvs: Tlvs::new().with(tag::SC_INTERFACE_VERSION, TlvValue::U8(0x34)),
    };
    let submit = SubmitSm {
        service_type: o("CMT"),
        source_addr_ton: Ton::ALPHANUMERIC,
        source_addr: o("SMSBRIDGE"),
        dest_addr_ton: Ton::INTERNATIONAL,
        dest_addr_npi: Npi::ISDN,
        destination_addr: o("447700900123"),
        registered_delivery: 1,
        short_message: o("Hello from smsbridge"),
        tlvs: Tlvs::new()
            .with(tag::SAR_MSG_REF_NUM, TlvValue::U16(0x1234))
            .with(tag::SAR_TOTAL_SEGMENTS, TlvValue::U8(2))
            .with(tag::SAR_SEGMENT_SEQNUM, TlvValue::U8(1)),
        ..Default::default()
    };
    let receipt = SubmitSm {
        source_addr_ton: Ton::INTERNATIONAL,
        source_addr_npi: Npi::ISDN,
        source_addr: o("447700900123"),
        destination_addr: o("SMSBRIDGE"),
        esm_class: EsmClass::DELIVERY_RECEIPT,
        short_message: o(
            "id:7b3c1e0a9f sub:001 dlvrd:001 submit date:2511231200 done date:2511231201 stat:DELIVRD err:000 text:Hi",
        ),
        tlvs: Tlvs::new()
            .with(tag::RECEIPTED_MESSAGE_ID, TlvValue::CString(b"7b3c1e0a9f"))
            .with(
                tag::MESSAGE_STATE,
                TlvValue::MessageState(MessageState::DELIVERED),
            )
            .with(
                tag::NETWORK_ERROR_CODE,
                TlvValue::NetworkErrorCode(NetworkErrorCode {
                    network_type: 3,
                    error_code: 0x22,
                }),
            ),
        ..Default::default()
    };
    let mid = |s: &str| MessageIdResp {
        message_id: Some(o(s)),
        tlvs: Tlvs::new(),
    };
    let bodies: Vec<(Body<'static>, bool)> = vec![
        (Body::BindTransmitter(bind.clone()), true),
        (Body::BindTransmitterResp(bind_resp.clone()), false),
        (Body::BindReceiver(bind.clone()), true),
        (Body::BindReceiverResp(bind_resp.clone()), false),
        (Body::BindTransceiver(bind), true),
        (Body::BindTransceiverResp(bind_resp), false),
        (
            Body::Outbind(Outbind {
                system_id: o("SMSC01"),
                password: o("pw"),
                tlvs: Tlvs::new(),
            }),
            false,
        ),
        (Body::SubmitSm(submit), true),
        (Body::SubmitSmResp(mid("7b3c1e0a9f")), false),
        (
            Body::SubmitMulti(SubmitMulti {
                source_addr: o("SMSBRIDGE"),
                dest_address: vec![
                    DestAddress::Sme {
                        dest_addr_ton: Ton::INTERNATIONAL,
                        dest_addr_npi: Npi::ISDN,
                        destination_addr: o("447700900001"),
                    },
                    DestAddress::DistributionList {
                        dl_name: o("friends"),
                    },
                ]
                .into(),
                short_message: o("hello all"),
                ..Default::default()
            }),
            true,
        ),
        (
            Body::SubmitMultiResp(SubmitMultiResp {
                message_id: Some(o("m-1")),
                unsuccess_sme: Some(
                    vec![UnsuccessSme {
                        dest_addr_ton: Ton::INTERNATIONAL,
                        dest_addr_npi: Npi::ISDN,
                        destination_addr: o("447700900001"),
                        error_status_code: CommandStatus::ESME_RINVDSTADR,
                    }]
                    .into(),
                ),
                tlvs: Tlvs::new(),
            }),
            false,
        ),
        (Body::DeliverSm(receipt), false),
        (Body::DeliverSmResp(mid("")), true),
        (
            Body::DataSm(DataSm {
                service_type: o("WAP"),
                source_addr: o("447700900123"),
                destination_addr: o("447700900124"),
                tlvs: Tlvs::new().with(tag::MESSAGE_PAYLOAD, TlvValue::Octets(&[0xca, 0xfe])),
                ..Default::default()
            }),
            true,
        ),
        (Body::DataSmResp(mid("d-1")), false),
        (
            Body::QuerySm(QuerySm {
                message_id: o("7b3c1e0a9f"),
                source_addr: o("SMSBRIDGE"),
                ..Default::default()
            }),
            true,
        ),
        (
            Body::QuerySmResp(QuerySmResp {
                message_id: Some(o("7b3c1e0a9f")),
                final_date: Some(o("")),
                message_state: Some(MessageState::DELIVERED),
                error_code: Some(0),
                tlvs: Tlvs::new(),
            }),
            false,
        ),
        (
            Body::CancelSm(CancelSm {
                message_id: o("7b3c1e0a9f"),
                source_addr: o("SMSBRIDGE"),
                destination_addr: o("447700900123"),
                ..Default::default()
            }),
            true,
        ),
        (Body::CancelSmResp(Tlvs::new()), false),
        (
            Body::ReplaceSm(ReplaceSm {
                message_id: o("7b3c1e0a9f"),
                source_addr: o("SMSBRIDGE"),
                short_message: o("replaced"),
                ..Default::default()
            }),
            true,
        ),
        (Body::ReplaceSmResp(Tlvs::new()), false),
        (Body::EnquireLink, true),
        (Body::EnquireLinkResp(Tlvs::new()), false),
        (
            Body::AlertNotification(AlertNotification {
                source_addr: o("447700900123"),
                esme_addr: o("SMSBRIDGE"),
                tlvs: Tlvs::new().with(tag::MS_AVAILABILITY_STATUS, TlvValue::U8(0)),
                ..Default::default()
            }),
            false,
        ),
        (Body::GenericNack(Tlvs::new()), true),
        (Body::Unbind, true),
        (Body::UnbindResp(Tlvs::new()), false),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, (body, esme))| (Pdu::new(100 + i as u32, body), esme))
        .collect()
}

fn inet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in *c {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const ESME: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SMSC: ([u8; 4], u16) = ([10, 0, 0, 2], 2775);

/// One Ethernet/IPv4/TCP frame.
fn tcp_frame(from_esme: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = if from_esme {
        (ESME, SMSC)
    } else {
        (SMSC, ESME)
    };
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src.1.to_be_bytes());
    tcp.extend_from_slice(&dst.1.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]); // offset 5 words, window, checksum, urgent
    let tcp_len = (tcp.len() + payload.len()) as u16;
    let pseudo = [&src.0[..], &dst.0[..], &[0, 6], &tcp_len.to_be_bytes()].concat();
    let ck = inet_checksum(&[&pseudo, &tcp, payload]);
    tcp[16..18].copy_from_slice(&ck.to_be_bytes());

    let total = 20 + tcp_len;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src.0);
    ip.extend_from_slice(&dst.0);
    let ck = inet_checksum(&[&ip]);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());

    let (smac, dmac) = if from_esme {
        ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
    } else {
        ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
    };
    [&dmac[..], &smac[..], &[0x08, 0x00], &ip, &tcp, payload].concat()
}

/// A classic pcap (microsecond timestamps, Ethernet link type).
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&1_764_000_000u32.to_le_bytes());
        out.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

const FIELDS: &[&str] = &[
    "frame.number",
    "smpp.command_id",
    "smpp.command_length",
    "smpp.command_status",
    "smpp.sequence_number",
    "smpp.system_id",
    "smpp.source_addr",
    "smpp.destination_addr",
    "smpp.message_id",
    "smpp.message",
    "smpp.dl_name",
    "smpp.esme_addr",
    "smpp.error_status_code",
    "smpp.opt_param_tag",
    "smpp.receipted_message_id",
    "smpp.message_state",
    "smpp.sar_msg_ref_num",
    "smpp.message_payload",
    "smpp.network_error.code",
    "_ws.malformed",
    "_ws.expert",
    "_ws.expert.severity",
];

#[test]
fn tshark_reads_every_operation() {
    let tshark =
        std::env::var("SMSBRIDGE_TSHARK").unwrap_or_else(|_| "/usr/bin/tshark".to_string());
    if !std::path::Path::new(&tshark).exists() {
        if std::env::var("SMSBRIDGE_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("tshark not found at {tshark} and SMSBRIDGE_REQUIRE_INTEROP=1");
        }
        eprintln!("skipping: tshark not found at {tshark}");
        return;
    }

    let conv = conversation();
    let (mut esme_seq, mut smsc_seq) = (1000u32, 5000u32);
    let mut frames = vec![
        tcp_frame(true, esme_seq, 0, 0x02, &[]),
        tcp_frame(false, smsc_seq, esme_seq + 1, 0x12, &[]),
        tcp_frame(true, esme_seq + 1, smsc_seq + 1, 0x10, &[]),
    ];
    esme_seq += 1;
    smsc_seq += 1;
    for (pdu, from_esme) in &conv {
        let bytes = pdu.to_vec();
        let n = bytes.len() as u32;
        if *from_esme {
            frames.push(tcp_frame(true, esme_seq, smsc_seq, 0x18, &bytes));
            esme_seq += n;
        } else {
            frames.push(tcp_frame(false, smsc_seq, esme_seq, 0x18, &bytes));
            smsc_seq += n;
        }
    }
    let dir = std::env::temp_dir().join(format!("smsbridge-smpp-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("smpp.pcap");
    std::fs::write(&file, pcap(&frames)).unwrap();

    let mut cmd = Command::new(&tshark);
    cmd.args(["-n", "-r"]).arg(&file).args([
        "-d",
        "tcp.port==2775,smpp",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);

    let rows: Vec<Vec<String>> = stdout
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), frames.len(), "{stdout}");
    let col = |row: &Vec<String>, name: &str| -> String {
        let i = FIELDS.iter().position(|f| *f == name).unwrap();
        row.get(i).cloned().unwrap_or_default()
    };
    for row in &rows {
        assert_eq!(col(row, "_ws.malformed"), "", "malformed frame: {row:?}");
        // Only "chat" expert items (0x00200000, e.g. the TCP handshake) are allowed; no note, warning or error.
        let severities = col(row, "_ws.expert.severity");
        for sev in severities.split(',').filter(|s| !s.is_empty()) {
            assert_eq!(sev, "2097152", "expert info above chat level: {row:?}");
        }
    }

    for ((pdu, _), row) in conv.iter().zip(&rows[3..]) {
        let what = pdu.command_id().name();
        assert_eq!(
            col(row, "smpp.command_id"),
            format!("0x{:08x}", pdu.command_id().as_u32()),
            "{what}: {row:?}"
        );
        assert_eq!(
            col(row, "smpp.command_length"),
            pdu.encoded_len().to_string(),
            "{what}"
        );
        assert_eq!(
            col(row, "smpp.sequence_number"),
            pdu.sequence_number.to_string(),
            "{what}"
        );
        // The dissector shows command_status on responses only.
        let status = if pdu.is_response() { "0x00000000" } else { "" };
        assert_eq!(col(row, "smpp.command_status"), status, "{what}");
        match &pdu.body {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => {
                assert_eq!(
                    col(row, "smpp.system_id").as_bytes(),
                    &*b.system_id,
                    "{what}"
                );
            }
            Body::BindTransmitterResp(b)
            | Body::BindReceiverResp(b)
            | Body::BindTransceiverResp(b) => {
                assert_eq!(
                    col(row, "smpp.system_id").as_bytes(),
                    b.system_id.as_deref().unwrap(),
                    "{what}"
                );
                assert_eq!(col(row, "smpp.opt_param_tag"), "0x0210", "{what}");
            }
            Body::SubmitSm(s) => {
                assert_eq!(col(row, "smpp.source_addr"), "SMSBRIDGE");
                assert_eq!(col(row, "smpp.destination_addr"), "447700900123");
                assert_eq!(
                    col(row, "smpp.message"),
                    hex::encode(&*s.short_message),
                    "{row:?}"
                );
                assert_eq!(col(row, "smpp.opt_param_tag"), "0x020c,0x020e,0x020f");
                assert_eq!(col(row, "smpp.sar_msg_ref_num"), "4660");
            }
            Body::DeliverSm(s) => {
                assert_eq!(col(row, "smpp.source_addr"), "447700900123");
                assert_eq!(
                    col(row, "smpp.message"),
                    hex::encode(&*s.short_message),
                    "{row:?}"
                );
                assert_eq!(col(row, "smpp.receipted_message_id"), "7b3c1e0a9f");
                assert_eq!(col(row, "smpp.message_state"), "2");
                assert_eq!(col(row, "smpp.network_error.code"), "0x0022");
                assert_eq!(col(row, "smpp.opt_param_tag"), "0x001e,0x0427,0x0423");
            }
            Body::SubmitSmResp(r) | Body::DataSmResp(r) => {
                assert_eq!(
                    col(row, "smpp.message_id").as_bytes(),
                    r.message_id.as_deref().unwrap(),
                    "{what}"
                );
            }
            Body::SubmitMulti(_) => {
                assert_eq!(col(row, "smpp.destination_addr"), "447700900001");
                assert_eq!(col(row, "smpp.dl_name"), "friends");
                assert_eq!(col(row, "smpp.message"), hex::encode("hello all"));
            }
            Body::SubmitMultiResp(_) => {
                assert_eq!(col(row, "smpp.message_id"), "m-1");
                assert_eq!(col(row, "smpp.destination_addr"), "447700900001");
                assert_eq!(col(row, "smpp.error_status_code"), "0x0000000b");
            }
            Body::DataSm(_) => {
                assert_eq!(col(row, "smpp.destination_addr"), "447700900124");
                assert_eq!(col(row, "smpp.opt_param_tag"), "0x0424");
                assert_eq!(col(row, "smpp.message_payload"), "cafe");
            }
            Body::ReplaceSm(r) => {
                assert_eq!(col(row, "smpp.message_id"), "7b3c1e0a9f");
                assert_eq!(col(row, "smpp.message"), hex::encode(&*r.short_message));
            }
            Body::QuerySm(_) | Body::CancelSm(_) => {
                assert_eq!(col(row, "smpp.message_id"), "7b3c1e0a9f", "{what}");
                assert_eq!(col(row, "smpp.source_addr"), "SMSBRIDGE", "{what}");
            }
            Body::QuerySmResp(_) => {
                assert_eq!(col(row, "smpp.message_id"), "7b3c1e0a9f");
                assert_eq!(col(row, "smpp.message_state"), "2");
            }
            Body::AlertNotification(_) => {
                assert_eq!(col(row, "smpp.source_addr"), "447700900123");
                assert_eq!(col(row, "smpp.esme_addr"), "SMSBRIDGE");
                assert_eq!(col(row, "smpp.opt_param_tag"), "0x0422");
            }
            _ => {}
        }
    }
}
