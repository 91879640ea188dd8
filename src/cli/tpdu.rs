//! `smsbridge pdu decode|encode tpdu`: 3GPP TS 23.040 TPDUs as JSON, with the specification's field names.
//!
//! Decode prints one JSON object: `type`, `smsc` (with `--sca`), `first_octet` and the flags of the type
//! (`tp_mti`, `tp_rd`, `tp_vpf`, `tp_srr`, `tp_udhi`, `tp_rp`, `tp_mms`, `tp_lp`, `tp_sri`, `tp_srq`), `tp_mr`,
//! the address (`tp_da` / `tp_oa` / `tp_ra` = {`number`, `ton`, `npi`}), `tp_pid`, `tp_dcs` (with `dcs`, its
//! meaning), `tp_scts` / `tp_dt` (ISO 8601 with offset), `tp_st` (with `status`), `tp_vp`, `tp_pi`, `tp_udl`,
//! `udh`, `text`, `ud` (hex of TP-UD as on the wire) and `truncated`.
//!
//! `tp_vp` is `{"minutes": n}` (relative), an ISO 8601 string (absolute), or for the enhanced format
//! `{"enhanced": "<7 octets in hex>", "single_shot": bool, "format": ..., ...}` where the hex is authoritative.
//!
//! Encode reads the same JSON. The user data comes from `ud` + `tp_udl` + `tp_udhi` when `ud` is given (exact
//! bytes), otherwise from `text` (or `data` hex for 8-bit) and `udh`; `first_octet`, `dcs`, `status` and the
//! other derived fields are ignored. Encode prints the hex on one line.

use std::io::Write;

use anyhow::Context;
use serde_json::{Map, Value, json};
use smsbridge_protocol::sms::{
    Address, Alphabet, Dcs, DcsGroup, Deliver, EnhancedValidity, InformationElement,
    NationalLanguage, Npi, Pid, Status, StatusReport, Submit, Timestamp, Ton, Tpdu, Udh, UserData,
    ValidityPeriod, decode_with_sca, encode_with_sca,
};

/// Hex with white space and `:` ignored.
pub(crate) fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| format!("invalid hex: {e}"))
}

fn address_json(a: &Address) -> Value {
    json!({ "number": a.display(), "ton": a.ton.name(), "npi": a.npi.name() })
}

pub(crate) fn udh_json(h: &Udh) -> Value {
    Value::Array(
        h.elements
            .iter()
            .map(|e| match e {
                InformationElement::Concat8 { reference, parts, number } => {
                    json!({ "iei": e.iei(), "reference": reference, "parts": parts, "number": number })
                }
                InformationElement::Concat16 { reference, parts, number } => {
                    json!({ "iei": e.iei(), "reference": reference, "parts": parts, "number": number })
                }
                InformationElement::Ports8 { destination, source } => {
                    json!({ "iei": e.iei(), "destination_port": destination, "source_port": source })
                }
                InformationElement::Ports16 { destination, source } => {
                    json!({ "iei": e.iei(), "destination_port": destination, "source_port": source })
                }
                InformationElement::SingleShift(l) | InformationElement::LockingShift(l) => {
                    json!({ "iei": e.iei(), "language": l.id(), "language_name": language_name(*l) })
                }
                InformationElement::Other { iei, data } => json!({ "iei": iei, "data": hex::encode_upper(data) }),
            })
            .collect(),
    )
}

fn language_name(l: NationalLanguage) -> &'static str {
    match l {
        NationalLanguage::Turkish => "turkish",
        NationalLanguage::Spanish => "spanish",
        NationalLanguage::Portuguese => "portuguese",
        NationalLanguage::Other(_) => "other",
    }
}

fn dcs_json(d: Dcs) -> Value {
    let alphabet = |a: Alphabet| match a {
        Alphabet::Gsm7 => "gsm7",
        Alphabet::Eight => "8bit",
        Alphabet::Ucs2 => "ucs2",
    };
    match d.group() {
        DcsGroup::General {
            auto_delete,
            compressed,
            alphabet: a,
            class,
        } => json!({
            "group": if auto_delete { "automatic_deletion" } else { "general" },
            "compressed": compressed,
            "alphabet": alphabet(a),
            "class": class.map(|c| c.number()),
        }),
        DcsGroup::Reserved => json!({ "group": "reserved", "alphabet": "gsm7" }),
        DcsGroup::MessageWaiting {
            discard,
            active,
            indication,
            alphabet: a,
        } => json!({
            "group": if discard { "message_waiting_discard" } else { "message_waiting_store" },
            "active": active,
            "indication": format!("{indication:?}").to_lowercase(),
            "alphabet": alphabet(a),
        }),
        DcsGroup::DataCodingClass { alphabet: a, class } => json!({
            "group": "data_coding_message_class",
            "alphabet": alphabet(a),
            "class": class.number(),
        }),
    }
}

fn vp_json(vp: &ValidityPeriod) -> Value {
    match vp {
        ValidityPeriod::Relative(v) => json!({ "minutes": ValidityPeriod::relative_minutes(*v) }),
        ValidityPeriod::Absolute(t) => json!(t.to_iso8601()),
        ValidityPeriod::Enhanced(b) => {
            let mut m = Map::new();
            m.insert("enhanced".into(), json!(hex::encode_upper(b)));
            m.insert(
                "single_shot".into(),
                json!(vp.enhanced_single_shot().unwrap_or(false)),
            );
            match vp.enhanced() {
                Some(EnhancedValidity::None) => {
                    m.insert("format".into(), json!("none"));
                }
                Some(EnhancedValidity::RelativeMinutes(n)) => {
                    m.insert("format".into(), json!("relative"));
                    m.insert("minutes".into(), json!(n));
                }
                Some(EnhancedValidity::Seconds(s)) => {
                    m.insert("format".into(), json!("seconds"));
                    m.insert("seconds".into(), json!(s));
                }
                Some(EnhancedValidity::Hms {
                    hours,
                    minutes,
                    seconds,
                }) => {
                    m.insert("format".into(), json!("hh:mm:ss"));
                    m.insert(
                        "seconds".into(),
                        json!(
                            u32::from(hours) * 3600 + u32::from(minutes) * 60 + u32::from(seconds)
                        ),
                    );
                }
                Some(EnhancedValidity::Reserved(f)) => {
                    m.insert("format".into(), json!(format!("reserved_{f}")));
                }
                None => {}
            }
            Value::Object(m)
        }
    }
}

fn user_data_fields(m: &mut Map<String, Value>, ud: &UserData, dcs: Dcs) {
    m.insert("tp_udl".into(), json!(ud.udl(dcs)));
    m.insert(
        "udh".into(),
        ud.header.as_ref().map_or(Value::Null, udh_json),
    );
    m.insert(
        "text".into(),
        ud.text(dcs).map_or(Value::Null, Value::String),
    );
    if dcs.alphabet() == Alphabet::Eight || dcs.compressed() {
        m.insert("data".into(), json!(hex::encode_upper(&ud.body)));
    }
    let wire = ud
        .wire_bytes(dcs)
        .map(hex::encode_upper)
        .unwrap_or_default();
    m.insert("ud".into(), json!(wire));
    m.insert("truncated".into(), json!(ud.truncated));
}

/// The JSON of a TPDU (and its SCA when `sca` is `Some`).
pub fn tpdu_json(sca: Option<Option<&Address>>, tpdu: &Tpdu) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(tpdu.type_name()));
    if let Some(s) = sca {
        m.insert("smsc".into(), s.map_or(Value::Null, |a| json!(a.display())));
    }
    let fo = tpdu.first_octet();
    m.insert("first_octet".into(), json!(fo));
    m.insert("tp_mti".into(), json!(fo & 3));
    match tpdu {
        Tpdu::Submit(s) => {
            m.insert("tp_rd".into(), json!(s.tp_rd));
            m.insert("tp_vpf".into(), json!((fo >> 3) & 3));
            m.insert("tp_srr".into(), json!(s.tp_srr));
            m.insert("tp_udhi".into(), json!(fo & 0x40 != 0));
            m.insert("tp_rp".into(), json!(s.tp_rp));
            m.insert("tp_mr".into(), json!(s.tp_mr));
            m.insert("tp_da".into(), address_json(&s.tp_da));
            m.insert("tp_pid".into(), json!(s.tp_pid.0));
            m.insert("tp_dcs".into(), json!(s.tp_dcs.0));
            m.insert("dcs".into(), dcs_json(s.tp_dcs));
            m.insert(
                "tp_vp".into(),
                s.tp_vp.as_ref().map_or(Value::Null, vp_json),
            );
            user_data_fields(&mut m, &s.tp_ud, s.tp_dcs);
        }
        Tpdu::Deliver(d) => {
            m.insert("tp_mms".into(), json!(d.tp_mms));
            m.insert("tp_lp".into(), json!(d.tp_lp));
            m.insert("tp_sri".into(), json!(d.tp_sri));
            m.insert("tp_udhi".into(), json!(fo & 0x40 != 0));
            m.insert("tp_rp".into(), json!(d.tp_rp));
            m.insert("tp_oa".into(), address_json(&d.tp_oa));
            m.insert("tp_pid".into(), json!(d.tp_pid.0));
            m.insert("tp_dcs".into(), json!(d.tp_dcs.0));
            m.insert("dcs".into(), dcs_json(d.tp_dcs));
            m.insert("tp_scts".into(), json!(d.tp_scts.to_iso8601()));
            user_data_fields(&mut m, &d.tp_ud, d.tp_dcs);
        }
        Tpdu::StatusReport(r) => {
            m.insert("tp_mms".into(), json!(r.tp_mms));
            m.insert("tp_lp".into(), json!(r.tp_lp));
            m.insert("tp_srq".into(), json!(r.tp_srq));
            m.insert("tp_udhi".into(), json!(fo & 0x40 != 0));
            m.insert("tp_mr".into(), json!(r.tp_mr));
            m.insert("tp_ra".into(), address_json(&r.tp_ra));
            m.insert("tp_scts".into(), json!(r.tp_scts.to_iso8601()));
            m.insert("tp_dt".into(), json!(r.tp_dt.to_iso8601()));
            m.insert("tp_st".into(), json!(r.tp_st.0));
            m.insert(
                "status".into(),
                json!({ "kind": r.tp_st.kind().name(), "final": r.tp_st.kind().is_final(), "description": r.tp_st.description() }),
            );
            m.insert(
                "tp_pi".into(),
                r.parameter_indicator().map_or(Value::Null, |v| json!(v)),
            );
            m.insert(
                "tp_pid".into(),
                r.tp_pid.map_or(Value::Null, |p| json!(p.0)),
            );
            m.insert(
                "tp_dcs".into(),
                r.tp_dcs.map_or(Value::Null, |d| json!(d.0)),
            );
            if let Some(ud) = &r.tp_ud {
                user_data_fields(&mut m, ud, r.tp_dcs.unwrap_or_default());
            }
        }
    }
    Value::Object(m)
}

fn error_json(out: &mut dyn Write, message: String) -> anyhow::Result<u8> {
    writeln!(out, "{}", json!({ "error": message }))?;
    Ok(1)
}

/// Decodes one TPDU (preceded by the service-centre address when `sca`); returns 0 when it decoded.
pub fn decode(hex: &str, sca: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let bytes = match parse_hex(hex) {
        Ok(b) => b,
        Err(e) => return error_json(out, e),
    };
    let decoded = if sca {
        decode_with_sca(&bytes).map(|(s, t)| (Some(s), t))
    } else {
        Tpdu::decode(&bytes).map(|t| (None, t))
    };
    match decoded {
        Ok((s, t)) => {
            let v = tpdu_json(s.as_ref().map(Option::as_ref), &t);
            writeln!(out, "{v}")?;
            Ok(0)
        }
        Err(e) => error_json(out, format!("not a valid TPDU: {e}")),
    }
}

// ---- JSON -> TPDU ----

fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).filter(|v| !v.is_null())
}

fn get_bool(m: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match field(m, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
            Ok(n.as_u64() == Some(1))
        }
        Some(v) => Err(format!("{name}: expected true/false, got {v}")),
    }
}

fn get_u8(m: &Map<String, Value>, name: &str) -> Result<Option<u8>, String> {
    match field(m, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u8::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| format!("{name}: expected an integer 0-255, got {n}")),
        Some(Value::String(s)) => {
            let s = s.trim_start_matches("0x");
            u8::from_str_radix(s, 16)
                .map(Some)
                .map_err(|_| format!("{name}: expected an octet, got {s:?}"))
        }
        Some(v) => Err(format!("{name}: expected an integer 0-255, got {v}")),
    }
}

fn get_str<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match field(m, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{name}: expected a string, got {v}")),
    }
}

fn address_from(m: &Map<String, Value>, name: &str) -> Result<Address, String> {
    let v = field(m, name).ok_or_else(|| format!("{name} is missing"))?;
    let (number, ton, npi) = match v {
        Value::String(s) => (s.as_str(), None, None),
        Value::Object(o) => (
            get_str(o, "number")?.ok_or_else(|| format!("{name}.number is missing"))?,
            get_str(o, "ton")?,
            get_str(o, "npi")?,
        ),
        _ => return Err(format!("{name}: expected {{number, ton, npi}}")),
    };
    let mut a = Address::parse(number);
    if let Some(t) = ton {
        a.ton =
            Ton::from_name(t).ok_or_else(|| format!("{name}.ton: unknown type of number {t:?}"))?;
        a.number = number.trim_start_matches('+').to_owned();
        if a.ton == Ton::Alphanumeric {
            a.number = number.to_owned();
        }
    }
    if let Some(n) = npi {
        a.npi =
            Npi::from_name(n).ok_or_else(|| format!("{name}.npi: unknown numbering plan {n:?}"))?;
    }
    Ok(a)
}

fn timestamp_from(m: &Map<String, Value>, name: &str) -> Result<Timestamp, String> {
    let s = get_str(m, name)?.ok_or_else(|| format!("{name} is missing"))?;
    Timestamp::parse_iso8601(s).ok_or_else(|| {
        format!("{name}: expected YYYY-MM-DDTHH:MM:SS+HH:MM with an offset in quarters of an hour, got {s:?}")
    })
}

fn vp_from(m: &Map<String, Value>) -> Result<Option<ValidityPeriod>, String> {
    match field(m, "tp_vp") {
        None => Ok(None),
        Some(Value::String(_)) => Ok(Some(ValidityPeriod::Absolute(timestamp_from(m, "tp_vp")?))),
        Some(Value::Object(o)) => {
            if let Some(h) = get_str(o, "enhanced")? {
                let b = parse_hex(h)?;
                let arr: [u8; 7] = b
                    .try_into()
                    .map_err(|_| "tp_vp.enhanced: expected 7 octets of hex".to_owned())?;
                return Ok(Some(ValidityPeriod::Enhanced(arr)));
            }
            let mins = field(o, "minutes").and_then(Value::as_u64).ok_or(
                "tp_vp: expected {\"minutes\": n}, an ISO 8601 time or {\"enhanced\": hex}",
            )?;
            let v = ValidityPeriod::relative_from_minutes(u32::try_from(mins).unwrap_or(u32::MAX));
            Ok(Some(ValidityPeriod::Relative(v)))
        }
        Some(v) => Err(format!("tp_vp: unexpected {v}")),
    }
}

fn udh_from(v: &Value) -> Result<Udh, String> {
    let list = v
        .as_array()
        .ok_or("udh: expected a list of information elements")?;
    let mut elements = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let o = e
            .as_object()
            .ok_or_else(|| format!("udh[{i}]: expected an object"))?;
        let iei = get_u8(o, "iei")?.ok_or_else(|| format!("udh[{i}].iei is missing"))?;
        let num = |k: &str| -> Result<u64, String> {
            field(o, k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("udh[{i}].{k} is missing"))
        };
        let small = |k: &str| -> Result<u8, String> {
            u8::try_from(num(k)?).map_err(|_| format!("udh[{i}].{k} must be 0-255"))
        };
        let wide = |k: &str| -> Result<u16, String> {
            u16::try_from(num(k)?).map_err(|_| format!("udh[{i}].{k} must be 0-65535"))
        };
        let el = if let Some(d) = get_str(o, "data")? {
            InformationElement::from_parts(iei, &parse_hex(d)?)
        } else {
            match iei {
                0x00 => InformationElement::Concat8 {
                    reference: small("reference")?,
                    parts: small("parts")?,
                    number: small("number")?,
                },
                0x08 => InformationElement::Concat16 {
                    reference: wide("reference")?,
                    parts: small("parts")?,
                    number: small("number")?,
                },
                0x04 => InformationElement::Ports8 {
                    destination: small("destination_port")?,
                    source: small("source_port")?,
                },
                0x05 => InformationElement::Ports16 {
                    destination: wide("destination_port")?,
                    source: wide("source_port")?,
                },
                0x24 => {
                    InformationElement::SingleShift(NationalLanguage::from_id(small("language")?))
                }
                0x25 => {
                    InformationElement::LockingShift(NationalLanguage::from_id(small("language")?))
                }
                _ => return Err(format!("udh[{i}]: IEI {iei:#04x} needs \"data\" (hex)")),
            }
        };
        elements.push(el);
    }
    Ok(Udh { elements })
}

fn user_data_from(m: &Map<String, Value>, dcs: Dcs) -> Result<UserData, String> {
    if let Some(ud) = get_str(m, "ud")? {
        let bytes = parse_hex(ud)?;
        let udl = match get_u8(m, "tp_udl")? {
            Some(v) => v,
            // Without TP-UDL, octet data is as long as given; GSM 7-bit takes every whole septet.
            None if dcs.alphabet() == Alphabet::Gsm7 && !dcs.compressed() => {
                u8::try_from(bytes.len() * 8 / 7).map_err(|_| "ud: too long".to_owned())?
            }
            None => u8::try_from(bytes.len()).map_err(|_| "ud: too long".to_owned())?,
        };
        let udhi = get_bool(m, "tp_udhi")?;
        return UserData::decode(udl, &bytes, dcs, udhi).map_err(|e| format!("ud: {e}"));
    }
    let header = field(m, "udh").map(udh_from).transpose()?;
    if let Some(d) = get_str(m, "data")? {
        return Ok(UserData {
            header,
            body: parse_hex(d)?,
            truncated: false,
        });
    }
    let text = get_str(m, "text")?.unwrap_or("");
    match dcs.alphabet() {
        Alphabet::Gsm7 => UserData::gsm7(text, header).map_err(|e| format!("text: {e}")),
        Alphabet::Ucs2 => Ok(UserData::ucs2(text, header)),
        Alphabet::Eight => Ok(UserData {
            header,
            body: text.as_bytes().to_vec(),
            truncated: false,
        }),
    }
}

/// The TPDU a JSON object describes (the inverse of [`tpdu_json`]).
pub fn tpdu_from_json(v: &Value) -> Result<(Option<Address>, Tpdu), String> {
    let m = v.as_object().ok_or("expected a JSON object")?;
    let sca = get_str(m, "smsc")?.map(Address::parse);
    let ty = get_str(m, "type")?
        .ok_or("type is missing (SMS-SUBMIT, SMS-DELIVER or SMS-STATUS-REPORT)")?;
    let dcs = Dcs(get_u8(m, "tp_dcs")?.unwrap_or(0));
    let pid = Pid(get_u8(m, "tp_pid")?.unwrap_or(0));
    let tpdu = match ty {
        "SMS-SUBMIT" => Tpdu::Submit(Submit {
            tp_rd: get_bool(m, "tp_rd")?,
            tp_srr: get_bool(m, "tp_srr")?,
            tp_rp: get_bool(m, "tp_rp")?,
            tp_mr: get_u8(m, "tp_mr")?.unwrap_or(0),
            tp_da: address_from(m, "tp_da")?,
            tp_pid: pid,
            tp_dcs: dcs,
            tp_vp: vp_from(m)?,
            tp_ud: user_data_from(m, dcs)?,
        }),
        "SMS-DELIVER" => Tpdu::Deliver(Deliver {
            tp_mms: get_bool(m, "tp_mms")?,
            tp_lp: get_bool(m, "tp_lp")?,
            tp_sri: get_bool(m, "tp_sri")?,
            tp_rp: get_bool(m, "tp_rp")?,
            tp_oa: address_from(m, "tp_oa")?,
            tp_pid: pid,
            tp_dcs: dcs,
            tp_scts: timestamp_from(m, "tp_scts")?,
            tp_ud: user_data_from(m, dcs)?,
        }),
        "SMS-STATUS-REPORT" => {
            let tp_dcs = get_u8(m, "tp_dcs")?.map(Dcs);
            let has_ud = field(m, "ud").is_some()
                || field(m, "text").is_some()
                || field(m, "data").is_some();
            Tpdu::StatusReport(StatusReport {
                tp_mms: get_bool(m, "tp_mms")?,
                tp_lp: get_bool(m, "tp_lp")?,
                tp_srq: get_bool(m, "tp_srq")?,
                tp_mr: get_u8(m, "tp_mr")?.unwrap_or(0),
                tp_ra: address_from(m, "tp_ra")?,
                tp_scts: timestamp_from(m, "tp_scts")?,
                tp_dt: timestamp_from(m, "tp_dt")?,
                tp_st: Status(get_u8(m, "tp_st")?.ok_or("tp_st is missing")?),
                tp_pi: get_u8(m, "tp_pi")?,
                tp_pid: get_u8(m, "tp_pid")?.map(Pid),
                tp_dcs,
                tp_ud: if has_ud {
                    Some(user_data_from(m, tp_dcs.unwrap_or_default())?)
                } else {
                    None
                },
            })
        }
        other => return Err(format!("type: unknown TPDU type {other:?}")),
    };
    Ok((sca, tpdu))
}

/// Encodes one TPDU from its JSON and prints its hex.
pub fn encode(json: &str, sca: bool, out: &mut dyn Write) -> anyhow::Result<u8> {
    let v: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return error_json(out, format!("invalid JSON: {e}")),
    };
    let (smsc, tpdu) = match tpdu_from_json(&v) {
        Ok(x) => x,
        Err(e) => return error_json(out, e),
    };
    let bytes = if sca {
        encode_with_sca(smsc.as_ref(), &tpdu).map(|(b, _)| b)
    } else {
        tpdu.encode()
    };
    match bytes {
        Ok(b) => {
            writeln!(out, "{}", hex::encode_upper(b)).context("writing the hex")?;
            Ok(0)
        }
        Err(e) => error_json(out, format!("cannot encode: {e}")),
    }
}
