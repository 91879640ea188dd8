//! `smsbridge pdu decode|encode smpp`: SMPP 3.4 PDUs as flat JSON with the specification's field names.
//!
//! Output of `decode`, one JSON object per line:
//! - a PDU: `command_length`, `command_id` (number), `command` (name), `command_status` (number),
//!   `command_status_name`, `sequence_number`, then the body's fields by their SMPP 3.4 names in wire order.
//!   Integers are JSON numbers. C-octet strings are JSON strings without the NUL; one that is not valid
//!   UTF-8 is written `{"hex": "<octets>"}` so nothing is lost. `short_message` is lowercase hex, with
//!   `sm_length` beside it. `dest_address` (submit_multi) and `unsuccess_sme` (submit_multi_resp) are
//!   lists of objects. `tlvs` is an object `{"0xTTTT": "<value hex>"}` in wire order; when a tag occurs
//!   more than once it is instead a list of one-key objects in wire order (`[{"0x0424": "..."}, ...]`),
//!   which keeps order and repeats. A field absent on the wire (error responses without a body) is absent.
//! - a malformed PDU: `{"error", "command_status", "command_status_name", "consumed_octets", "in_sync",
//!   ["sequence_number", "command_id"]}`: the status a gateway would answer with and the octets skipped.
//!   When the stream is out of sync (command_length outside 16..=65536) decoding stops and
//!   `consumed_octets` counts every octet left.
//! - bytes ending inside a PDU: `{"incomplete": true, "needed": N}`.
//!
//! `encode` reads one or more such objects (PDU objects only) and prints the hex of all of them, so
//! `decode` then `encode` gives back the input. `command` or `command_id` names the operation;
//! `sequence_number` is required; `command_status` (or `command_status_name`) defaults to 0. The derived
//! counts (`command_length`, `sm_length`, `number_of_dests`, `no_unsuccess`) may be left out; when given
//! they must match what is encoded. Missing request fields default to 0 / empty; missing response fields
//! are absent on the wire. Unknown keys are errors, so a misspelt field is not silently dropped.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, anyhow, bail};
use smsbridge_protocol::smpp::*;

/// Decodes every PDU in `hex`, one JSON line each; returns 0 when all decoded, 1 otherwise.
pub fn decode(hex: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let bytes = parse_hex(hex)?;
    let limits = Limits::default();
    let mut rest: &[u8] = &bytes;
    let mut ok = true;
    while !rest.is_empty() {
        match decode_frame(rest, &limits) {
            Ok(Frame::Pdu { pdu, consumed }) => {
                writeln!(out, "{}", pdu_json(&pdu))?;
                rest = rest.get(consumed..).unwrap_or(&[]);
            }
            Ok(Frame::Incomplete { needed }) => {
                writeln!(out, "{{\"incomplete\":true,\"needed\":{needed}}}")?;
                ok = false;
                break;
            }
            Err(e) => {
                ok = false;
                let skipped = e.consumed().unwrap_or(rest.len());
                let mut o = Obj::new();
                o.str("error", &e.to_string());
                o.num("command_status", e.status().0);
                o.str("command_status_name", e.status().name());
                o.num("consumed_octets", skipped);
                o.raw("in_sync", if e.in_sync() { "true" } else { "false" });
                if let Some(seq) = e.sequence_number() {
                    o.num("sequence_number", seq);
                }
                if let Some(id) = e.command_id() {
                    o.num("command_id", id);
                }
                writeln!(out, "{}", o.finish())?;
                rest = rest.get(skipped..).unwrap_or(&[]);
            }
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// Encodes the PDU(s) of `json` and prints their hex on one line.
pub fn encode(json: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut hex_out = String::new();
    let mut n = 0;
    for (i, value) in serde_json::Deserializer::from_str(json)
        .into_iter::<J>()
        .enumerate()
    {
        let value = value.with_context(|| format!("PDU #{}: invalid JSON", i + 1))?;
        let pdu = pdu_from_json(&value).with_context(|| format!("PDU #{}", i + 1))?;
        hex_out.push_str(&hex::encode(pdu.to_vec()));
        n += 1;
    }
    if n == 0 {
        bail!("no PDU object in the JSON");
    }
    writeln!(out, "{hex_out}")?;
    Ok(0)
}

fn parse_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| anyhow!("the argument is not hex ({e})"))
}

// ---------------------------------------------------------------------------------------------------------
// Output: a small ordered JSON object writer (field order follows the specification's tables).

struct Obj {
    s: String,
    first: bool,
}

impl Obj {
    fn new() -> Obj {
        Obj {
            s: String::from("{"),
            first: true,
        }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.s.push(',');
        }
        self.first = false;
        self.s.push_str(&json_string(k));
        self.s.push(':');
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.s.push_str(v);
    }
    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        let _ = write!(self.s, "{v}");
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.s.push_str(&json_string(v));
    }
    /// A C-octet string: a JSON string, or `{"hex": ...}` when not UTF-8.
    fn cstr(&mut self, k: &str, v: &[u8]) {
        self.key(k);
        self.s.push_str(&cstr_json(v));
    }
    fn hex(&mut self, k: &str, v: &[u8]) {
        self.str(k, &hex::encode(v));
    }
    fn finish(mut self) -> String {
        self.s.push('}');
        self.s
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

fn cstr_json(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => json_string(s),
        Err(_) => format!("{{\"hex\":\"{}\"}}", hex::encode(v)),
    }
}

fn tlvs_json(t: &Tlvs<'_>) -> String {
    let mut tags: Vec<u16> = t.iter().map(|x| x.tag).collect();
    tags.sort_unstable();
    let repeated = tags.windows(2).any(|w| w[0] == w[1]);
    if repeated {
        let items: Vec<String> = t
            .iter()
            .map(|x| format!("{{\"0x{:04x}\":\"{}\"}}", x.tag, hex::encode(x.value)))
            .collect();
        format!("[{}]", items.join(","))
    } else {
        let mut o = Obj::new();
        for x in t.iter() {
            o.hex(&format!("0x{:04x}", x.tag), x.value);
        }
        o.finish()
    }
}

fn pdu_json(p: &Pdu<'_>) -> String {
    let mut o = Obj::new();
    let id = p.command_id();
    o.num("command_length", p.encoded_len());
    o.num("command_id", id.as_u32());
    o.str("command", id.name());
    o.num("command_status", p.command_status.0);
    o.str("command_status_name", p.command_status.name());
    o.num("sequence_number", p.sequence_number);
    match &p.body {
        Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
            o.cstr("system_id", &b.system_id);
            o.cstr("password", &b.password);
            o.cstr("system_type", &b.system_type);
            o.num("interface_version", b.interface_version);
            o.num("addr_ton", b.addr_ton.0);
            o.num("addr_npi", b.addr_npi.0);
            o.cstr("address_range", &b.address_range);
        }
        Body::BindReceiverResp(b) | Body::BindTransmitterResp(b) | Body::BindTransceiverResp(b) => {
            if let Some(s) = &b.system_id {
                o.cstr("system_id", s);
            }
        }
        Body::Outbind(b) => {
            o.cstr("system_id", &b.system_id);
            o.cstr("password", &b.password);
        }
        Body::SubmitSm(s) | Body::DeliverSm(s) => {
            o.cstr("service_type", &s.service_type);
            o.num("source_addr_ton", s.source_addr_ton.0);
            o.num("source_addr_npi", s.source_addr_npi.0);
            o.cstr("source_addr", &s.source_addr);
            o.num("dest_addr_ton", s.dest_addr_ton.0);
            o.num("dest_addr_npi", s.dest_addr_npi.0);
            o.cstr("destination_addr", &s.destination_addr);
            o.num("esm_class", s.esm_class.0);
            o.num("protocol_id", s.protocol_id);
            o.num("priority_flag", s.priority_flag);
            o.cstr("schedule_delivery_time", &s.schedule_delivery_time);
            o.cstr("validity_period", &s.validity_period);
            o.num("registered_delivery", s.registered_delivery);
            o.num("replace_if_present_flag", s.replace_if_present_flag);
            o.num("data_coding", s.data_coding.0);
            o.num("sm_default_msg_id", s.sm_default_msg_id);
            o.num("sm_length", s.short_message.len());
            o.hex("short_message", &s.short_message);
        }
        Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r) => {
            if let Some(m) = &r.message_id {
                o.cstr("message_id", m);
            }
        }
        Body::SubmitMulti(s) => {
            o.cstr("service_type", &s.service_type);
            o.num("source_addr_ton", s.source_addr_ton.0);
            o.num("source_addr_npi", s.source_addr_npi.0);
            o.cstr("source_addr", &s.source_addr);
            o.num("number_of_dests", s.dest_address.len());
            let items: Vec<String> = s
                .dest_address
                .iter()
                .map(|d| {
                    let mut e = Obj::new();
                    e.num("dest_flag", d.dest_flag());
                    match &d {
                        DestAddress::Sme {
                            dest_addr_ton,
                            dest_addr_npi,
                            destination_addr,
                        } => {
                            e.num("dest_addr_ton", dest_addr_ton.0);
                            e.num("dest_addr_npi", dest_addr_npi.0);
                            e.cstr("destination_addr", destination_addr);
                        }
                        DestAddress::DistributionList { dl_name } => e.cstr("dl_name", dl_name),
                    }
                    e.finish()
                })
                .collect();
            o.raw("dest_address", &format!("[{}]", items.join(",")));
            o.num("esm_class", s.esm_class.0);
            o.num("protocol_id", s.protocol_id);
            o.num("priority_flag", s.priority_flag);
            o.cstr("schedule_delivery_time", &s.schedule_delivery_time);
            o.cstr("validity_period", &s.validity_period);
            o.num("registered_delivery", s.registered_delivery);
            o.num("replace_if_present_flag", s.replace_if_present_flag);
            o.num("data_coding", s.data_coding.0);
            o.num("sm_default_msg_id", s.sm_default_msg_id);
            o.num("sm_length", s.short_message.len());
            o.hex("short_message", &s.short_message);
        }
        Body::SubmitMultiResp(r) => {
            if let Some(m) = &r.message_id {
                o.cstr("message_id", m);
            }
            if let Some(list) = &r.unsuccess_sme {
                o.num("no_unsuccess", list.len());
                let items: Vec<String> = list
                    .iter()
                    .map(|u| {
                        let mut e = Obj::new();
                        e.num("dest_addr_ton", u.dest_addr_ton.0);
                        e.num("dest_addr_npi", u.dest_addr_npi.0);
                        e.cstr("destination_addr", &u.destination_addr);
                        e.num("error_status_code", u.error_status_code.0);
                        e.finish()
                    })
                    .collect();
                o.raw("unsuccess_sme", &format!("[{}]", items.join(",")));
            }
        }
        Body::DataSm(s) => {
            o.cstr("service_type", &s.service_type);
            o.num("source_addr_ton", s.source_addr_ton.0);
            o.num("source_addr_npi", s.source_addr_npi.0);
            o.cstr("source_addr", &s.source_addr);
            o.num("dest_addr_ton", s.dest_addr_ton.0);
            o.num("dest_addr_npi", s.dest_addr_npi.0);
            o.cstr("destination_addr", &s.destination_addr);
            o.num("esm_class", s.esm_class.0);
            o.num("registered_delivery", s.registered_delivery);
            o.num("data_coding", s.data_coding.0);
        }
        Body::QuerySm(q) => {
            o.cstr("message_id", &q.message_id);
            o.num("source_addr_ton", q.source_addr_ton.0);
            o.num("source_addr_npi", q.source_addr_npi.0);
            o.cstr("source_addr", &q.source_addr);
        }
        Body::QuerySmResp(q) => {
            if let Some(m) = &q.message_id {
                o.cstr("message_id", m);
            }
            if let Some(f) = &q.final_date {
                o.cstr("final_date", f);
            }
            if let Some(s) = q.message_state {
                o.num("message_state", s.0);
            }
            if let Some(e) = q.error_code {
                o.num("error_code", e);
            }
        }
        Body::CancelSm(c) => {
            o.cstr("service_type", &c.service_type);
            o.cstr("message_id", &c.message_id);
            o.num("source_addr_ton", c.source_addr_ton.0);
            o.num("source_addr_npi", c.source_addr_npi.0);
            o.cstr("source_addr", &c.source_addr);
            o.num("dest_addr_ton", c.dest_addr_ton.0);
            o.num("dest_addr_npi", c.dest_addr_npi.0);
            o.cstr("destination_addr", &c.destination_addr);
        }
        Body::ReplaceSm(r) => {
            o.cstr("message_id", &r.message_id);
            o.num("source_addr_ton", r.source_addr_ton.0);
            o.num("source_addr_npi", r.source_addr_npi.0);
            o.cstr("source_addr", &r.source_addr);
            o.cstr("schedule_delivery_time", &r.schedule_delivery_time);
            o.cstr("validity_period", &r.validity_period);
            o.num("registered_delivery", r.registered_delivery);
            o.num("sm_default_msg_id", r.sm_default_msg_id);
            o.num("sm_length", r.short_message.len());
            o.hex("short_message", &r.short_message);
        }
        Body::AlertNotification(a) => {
            o.num("source_addr_ton", a.source_addr_ton.0);
            o.num("source_addr_npi", a.source_addr_npi.0);
            o.cstr("source_addr", &a.source_addr);
            o.num("esme_addr_ton", a.esme_addr_ton.0);
            o.num("esme_addr_npi", a.esme_addr_npi.0);
            o.cstr("esme_addr", &a.esme_addr);
        }
        Body::Unbind
        | Body::EnquireLink
        | Body::UnbindResp(_)
        | Body::GenericNack(_)
        | Body::CancelSmResp(_)
        | Body::ReplaceSmResp(_)
        | Body::EnquireLinkResp(_) => {}
    }
    if let Some(t) = p.tlvs().filter(|t| !t.is_empty()) {
        o.raw("tlvs", &tlvs_json(t));
    }
    o.finish()
}

// ---------------------------------------------------------------------------------------------------------
// Input: JSON parsed with object key order kept (TLV order matters on the wire).

/// A JSON value whose objects keep their key order and repeated keys.
#[derive(Debug)]
enum J {
    /// null and booleans: valid nowhere in a PDU.
    Null,
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_u64<E>(self, v: u64) -> Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<J, E> {
                Ok(J::Num(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<J, E> {
                Ok(serde_json::Number::from_f64(v).map_or(J::Null, J::Num))
            }
            fn visit_str<E>(self, v: &str) -> Result<J, E> {
                Ok(J::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<J, E> {
                Ok(J::Str(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, J>()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of one JSON object, consumed as the fields are read so leftovers can be reported.
struct Fields<'j> {
    what: String,
    entries: Vec<(&'j str, &'j J, bool)>,
}

impl<'j> Fields<'j> {
    fn new(what: impl Into<String>, v: &'j J) -> anyhow::Result<Fields<'j>> {
        let what = what.into();
        match v {
            J::Obj(e) => Ok(Fields {
                what,
                entries: e.iter().map(|(k, v)| (k.as_str(), v, false)).collect(),
            }),
            _ => bail!("{what}: expected a JSON object"),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'j J> {
        let e = self.entries.iter_mut().find(|e| e.0 == key && !e.2)?;
        e.2 = true;
        Some(e.1)
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.0 == key)
    }

    fn int<T: TryFrom<u64>>(&mut self, key: &str) -> anyhow::Result<Option<T>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let what = &self.what;
        let n = match v {
            J::Num(n) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| anyhow!("{what}: field `{key}` must be a non-negative integer"))?;
        let max = std::any::type_name::<T>();
        T::try_from(n)
            .map(Some)
            .map_err(|_| anyhow!("{what}: field `{key}` = {n} does not fit {max}"))
    }

    fn u8(&mut self, key: &str) -> anyhow::Result<u8> {
        Ok(self.int::<u8>(key)?.unwrap_or(0))
    }

    fn cstr_opt(&mut self, key: &str) -> anyhow::Result<Option<Octets<'static>>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let what = &self.what;
        let bytes = match v {
            J::Str(s) => s.as_bytes().to_vec(),
            J::Obj(o) => match o.as_slice() {
                [(k, J::Str(h))] if k == "hex" => {
                    hex::decode(h).map_err(|e| anyhow!("{what}: field `{key}`: bad hex ({e})"))?
                }
                _ => bail!("{what}: field `{key}` must be a string or {{\"hex\": \"...\"}}"),
            },
            _ => bail!("{what}: field `{key}` must be a string or {{\"hex\": \"...\"}}"),
        };
        if bytes.contains(&0) {
            bail!("{what}: field `{key}` contains a NUL octet, which ends a C-octet string");
        }
        Ok(Some(Cow::Owned(bytes)))
    }

    fn cstr(&mut self, key: &str) -> anyhow::Result<Octets<'static>> {
        Ok(self.cstr_opt(key)?.unwrap_or_default())
    }

    fn hex(&mut self, key: &str) -> anyhow::Result<Octets<'static>> {
        let Some(v) = self.take(key) else {
            return Ok(Cow::Owned(Vec::new()));
        };
        let what = &self.what;
        match v {
            J::Str(s) => {
                Ok(Cow::Owned(hex::decode(s).map_err(|e| {
                    anyhow!("{what}: field `{key}`: bad hex ({e})")
                })?))
            }
            _ => bail!("{what}: field `{key}` must be a hex string"),
        }
    }

    /// A derived count: optional, but when given it must match.
    fn count(&mut self, key: &str, actual: usize) -> anyhow::Result<()> {
        if let Some(n) = self.int::<u64>(key)? {
            if n != actual as u64 {
                bail!(
                    "{}: field `{key}` = {n} but the value encodes {actual}; leave it out to have it computed",
                    self.what
                );
            }
        }
        Ok(())
    }

    fn done(&self) -> anyhow::Result<()> {
        if let Some(e) = self.entries.iter().find(|e| !e.2) {
            bail!("{}: unknown or repeated field `{}`", self.what, e.0);
        }
        Ok(())
    }
}

fn tlvs_from_json(f: &mut Fields<'_>) -> anyhow::Result<Tlvs<'static>> {
    let mut t = Tlvs::new();
    let Some(v) = f.take("tlvs") else {
        return Ok(t);
    };
    let what = f.what.clone();
    let pairs: Vec<(&String, &J)> = match v {
        J::Obj(o) => o.iter().map(|(k, v)| (k, v)).collect(),
        J::Arr(a) => a
            .iter()
            .map(|x| match x {
                J::Obj(o) if o.len() == 1 => Ok((&o[0].0, &o[0].1)),
                _ => Err(anyhow!("{what}: field `tlvs`: list items must be one-key objects {{\"0xTTTT\": \"hex\"}}")),
            })
            .collect::<anyhow::Result<_>>()?,
        _ => bail!("{what}: field `tlvs` must be an object or a list"),
    };
    for (k, v) in pairs {
        let tag = k
            .strip_prefix("0x")
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .or_else(|| tag_by_name(k))
            .ok_or_else(|| {
                anyhow!("{what}: field `tlvs`: key `{k}` is not a tag like \"0x0424\"")
            })?;
        let J::Str(h) = v else {
            bail!("{what}: field `tlvs`: value of `{k}` must be a hex string")
        };
        let value = hex::decode(h)
            .map_err(|e| anyhow!("{what}: field `tlvs`: value of `{k}`: bad hex ({e})"))?;
        t.push(tag, &value)
            .map_err(|e| anyhow!("{what}: field `tlvs`: {e}"))?;
    }
    Ok(t)
}

fn pdu_from_json(v: &J) -> anyhow::Result<Pdu<'static>> {
    let mut f = Fields::new("PDU", v)?;
    if f.has("error") || f.has("incomplete") {
        bail!(
            "this is an error or incomplete line printed by `decode`, not a PDU; there is nothing to encode"
        );
    }
    let by_name = match f.take("command") {
        Some(J::Str(s)) => Some(
            CommandId::from_name(s)
                .ok_or_else(|| anyhow!("field `command`: unknown command `{s}`"))?,
        ),
        Some(_) => bail!("field `command` must be a command name like \"submit_sm\""),
        None => None,
    };
    let by_id = match f.int::<u32>("command_id")? {
        Some(n) => Some(
            CommandId::from_u32(n)
                .ok_or_else(|| anyhow!("field `command_id`: unknown command_id {n:#010x}"))?,
        ),
        None => None,
    };
    let id = match (by_name, by_id) {
        (Some(a), Some(b)) if a != b => {
            bail!("field `command` ({a}) and field `command_id` ({b}) disagree")
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => bail!("missing field `command` (or `command_id`)"),
    };
    f.what = id.name().to_string();
    let status_name = match f.take("command_status_name") {
        Some(J::Str(s)) => Some(s.as_str()),
        Some(_) => bail!("{id}: field `command_status_name` must be a string"),
        None => None,
    };
    let command_status = match (f.int::<u32>("command_status")?, status_name) {
        (Some(n), _) => CommandStatus(n),
        (None, Some(name)) => CommandStatus::from_name(name)
            .ok_or_else(|| anyhow!("{id}: field `command_status_name`: unknown status `{name}`"))?,
        (None, None) => CommandStatus::ESME_ROK,
    };
    let sequence_number = f
        .int::<u32>("sequence_number")?
        .ok_or_else(|| anyhow!("{id}: missing field `sequence_number`"))?;
    let command_length = f.int::<u64>("command_length")?;
    let body = body_from_json(id, &mut f)?;
    let tlvs = tlvs_from_json(&mut f)?;
    let mut pdu = Pdu {
        command_status,
        sequence_number,
        body,
    };
    if !tlvs.is_empty() {
        set_tlvs(&mut pdu.body, tlvs)
            .ok_or_else(|| anyhow!("{id}: field `tlvs`: this PDU has no optional parameters"))?;
    }
    f.done()?;
    pdu.validate().map_err(|e| anyhow!("{id}: {e}"))?;
    if let Some(n) = command_length {
        let actual = pdu.encoded_len() as u64;
        if n != actual {
            bail!(
                "{id}: field `command_length` = {n} but the PDU encodes to {actual} octets; leave it out to have it computed"
            );
        }
    }
    Ok(pdu)
}

fn set_tlvs(b: &mut Body<'static>, t: Tlvs<'static>) -> Option<()> {
    let slot = match b {
        Body::BindReceiver(x) | Body::BindTransmitter(x) | Body::BindTransceiver(x) => &mut x.tlvs,
        Body::BindReceiverResp(x) | Body::BindTransmitterResp(x) | Body::BindTransceiverResp(x) => {
            &mut x.tlvs
        }
        Body::Outbind(x) => &mut x.tlvs,
        Body::UnbindResp(x)
        | Body::GenericNack(x)
        | Body::CancelSmResp(x)
        | Body::ReplaceSmResp(x)
        | Body::EnquireLinkResp(x) => x,
        Body::SubmitSm(x) | Body::DeliverSm(x) => &mut x.tlvs,
        Body::SubmitSmResp(x) | Body::DeliverSmResp(x) | Body::DataSmResp(x) => &mut x.tlvs,
        Body::SubmitMulti(x) => &mut x.tlvs,
        Body::SubmitMultiResp(x) => &mut x.tlvs,
        Body::DataSm(x) => &mut x.tlvs,
        Body::QuerySm(x) => &mut x.tlvs,
        Body::QuerySmResp(x) => &mut x.tlvs,
        Body::CancelSm(x) => &mut x.tlvs,
        Body::ReplaceSm(x) => &mut x.tlvs,
        Body::AlertNotification(x) => &mut x.tlvs,
        Body::Unbind | Body::EnquireLink => return None,
    };
    *slot = t;
    Some(())
}

fn submit_sm_from_json(f: &mut Fields<'_>) -> anyhow::Result<SubmitSm<'static>> {
    let s = SubmitSm {
        service_type: f.cstr("service_type")?,
        source_addr_ton: Ton(f.u8("source_addr_ton")?),
        source_addr_npi: Npi(f.u8("source_addr_npi")?),
        source_addr: f.cstr("source_addr")?,
        dest_addr_ton: Ton(f.u8("dest_addr_ton")?),
        dest_addr_npi: Npi(f.u8("dest_addr_npi")?),
        destination_addr: f.cstr("destination_addr")?,
        esm_class: EsmClass(f.u8("esm_class")?),
        protocol_id: f.u8("protocol_id")?,
        priority_flag: f.u8("priority_flag")?,
        schedule_delivery_time: f.cstr("schedule_delivery_time")?,
        validity_period: f.cstr("validity_period")?,
        registered_delivery: f.u8("registered_delivery")?,
        replace_if_present_flag: f.u8("replace_if_present_flag")?,
        data_coding: DataCoding(f.u8("data_coding")?),
        sm_default_msg_id: f.u8("sm_default_msg_id")?,
        short_message: f.hex("short_message")?,
        tlvs: Tlvs::new(),
    };
    f.count("sm_length", s.short_message.len())?;
    Ok(s)
}

fn list<'j>(f: &mut Fields<'j>, key: &str) -> anyhow::Result<Option<&'j [J]>> {
    match f.take(key) {
        None => Ok(None),
        Some(J::Arr(a)) => Ok(Some(a)),
        Some(_) => bail!("{}: field `{key}` must be a list", f.what),
    }
}

fn body_from_json(id: CommandId, f: &mut Fields<'_>) -> anyhow::Result<Body<'static>> {
    use CommandId as C;
    let bind = |f: &mut Fields<'_>| -> anyhow::Result<Bind<'static>> {
        Ok(Bind {
            system_id: f.cstr("system_id")?,
            password: f.cstr("password")?,
            system_type: f.cstr("system_type")?,
            interface_version: f
                .int::<u8>("interface_version")?
                .unwrap_or(INTERFACE_VERSION_34),
            addr_ton: Ton(f.u8("addr_ton")?),
            addr_npi: Npi(f.u8("addr_npi")?),
            address_range: f.cstr("address_range")?,
            tlvs: Tlvs::new(),
        })
    };
    let bind_resp = |f: &mut Fields<'_>| -> anyhow::Result<BindResp<'static>> {
        Ok(BindResp {
            system_id: f.cstr_opt("system_id")?,
            tlvs: Tlvs::new(),
        })
    };
    let mid = |f: &mut Fields<'_>| -> anyhow::Result<MessageIdResp<'static>> {
        Ok(MessageIdResp {
            message_id: f.cstr_opt("message_id")?,
            tlvs: Tlvs::new(),
        })
    };
    Ok(match id {
        C::BindReceiver => Body::BindReceiver(bind(f)?),
        C::BindTransmitter => Body::BindTransmitter(bind(f)?),
        C::BindTransceiver => Body::BindTransceiver(bind(f)?),
        C::BindReceiverResp => Body::BindReceiverResp(bind_resp(f)?),
        C::BindTransmitterResp => Body::BindTransmitterResp(bind_resp(f)?),
        C::BindTransceiverResp => Body::BindTransceiverResp(bind_resp(f)?),
        C::Outbind => Body::Outbind(Outbind {
            system_id: f.cstr("system_id")?,
            password: f.cstr("password")?,
            tlvs: Tlvs::new(),
        }),
        C::Unbind => Body::Unbind,
        C::UnbindResp => Body::UnbindResp(Tlvs::new()),
        C::GenericNack => Body::GenericNack(Tlvs::new()),
        C::EnquireLink => Body::EnquireLink,
        C::EnquireLinkResp => Body::EnquireLinkResp(Tlvs::new()),
        C::CancelSmResp => Body::CancelSmResp(Tlvs::new()),
        C::ReplaceSmResp => Body::ReplaceSmResp(Tlvs::new()),
        C::SubmitSm => Body::SubmitSm(submit_sm_from_json(f)?),
        C::DeliverSm => Body::DeliverSm(submit_sm_from_json(f)?),
        C::SubmitSmResp => Body::SubmitSmResp(mid(f)?),
        C::DeliverSmResp => Body::DeliverSmResp(mid(f)?),
        C::DataSmResp => Body::DataSmResp(mid(f)?),
        C::SubmitMulti => {
            let service_type = f.cstr("service_type")?;
            let source_addr_ton = Ton(f.u8("source_addr_ton")?);
            let source_addr_npi = Npi(f.u8("source_addr_npi")?);
            let source_addr = f.cstr("source_addr")?;
            let mut dest_address = Vec::new();
            for (i, d) in list(f, "dest_address")?.unwrap_or(&[]).iter().enumerate() {
                let mut e = Fields::new(format!("submit_multi: dest_address[{i}]"), d)?;
                let flag =
                    e.int::<u8>("dest_flag")?
                        .unwrap_or(if e.has("dl_name") { 2 } else { 1 });
                dest_address.push(match flag {
                    1 => DestAddress::Sme {
                        dest_addr_ton: Ton(e.u8("dest_addr_ton")?),
                        dest_addr_npi: Npi(e.u8("dest_addr_npi")?),
                        destination_addr: e.cstr("destination_addr")?,
                    },
                    2 => DestAddress::DistributionList { dl_name: e.cstr("dl_name")? },
                    n => bail!("submit_multi: dest_address[{i}]: field `dest_flag` = {n}; expected 1 (SME) or 2 (list)"),
                });
                e.done()?;
            }
            f.count("number_of_dests", dest_address.len())?;
            let mut s = SubmitMulti {
                service_type,
                source_addr_ton,
                source_addr_npi,
                source_addr,
                dest_address: dest_address.into(),
                esm_class: EsmClass(f.u8("esm_class")?),
                protocol_id: f.u8("protocol_id")?,
                priority_flag: f.u8("priority_flag")?,
                schedule_delivery_time: f.cstr("schedule_delivery_time")?,
                validity_period: f.cstr("validity_period")?,
                registered_delivery: f.u8("registered_delivery")?,
                replace_if_present_flag: f.u8("replace_if_present_flag")?,
                data_coding: DataCoding(f.u8("data_coding")?),
                sm_default_msg_id: f.u8("sm_default_msg_id")?,
                short_message: Cow::Owned(Vec::new()),
                tlvs: Tlvs::new(),
            };
            s.short_message = f.hex("short_message")?;
            f.count("sm_length", s.short_message.len())?;
            Body::SubmitMulti(s)
        }
        C::SubmitMultiResp => {
            let message_id = f.cstr_opt("message_id")?;
            let unsuccess = match list(f, "unsuccess_sme")? {
                None => None,
                Some(items) => {
                    let mut v = Vec::new();
                    for (i, u) in items.iter().enumerate() {
                        let mut e =
                            Fields::new(format!("submit_multi_resp: unsuccess_sme[{i}]"), u)?;
                        v.push(UnsuccessSme {
                            dest_addr_ton: Ton(e.u8("dest_addr_ton")?),
                            dest_addr_npi: Npi(e.u8("dest_addr_npi")?),
                            destination_addr: e.cstr("destination_addr")?,
                            error_status_code: CommandStatus(
                                e.int::<u32>("error_status_code")?.unwrap_or(0),
                            ),
                        });
                        e.done()?;
                    }
                    Some(v)
                }
            };
            let no_unsuccess = f.int::<u8>("no_unsuccess")?;
            let unsuccess = match (unsuccess, no_unsuccess) {
                (Some(v), Some(n)) if usize::from(n) != v.len() => {
                    bail!(
                        "submit_multi_resp: field `no_unsuccess` = {n} but `unsuccess_sme` has {} entries",
                        v.len()
                    )
                }
                (None, Some(0)) => Some(Vec::new()),
                (None, Some(n)) => bail!(
                    "submit_multi_resp: field `no_unsuccess` = {n} but `unsuccess_sme` is missing"
                ),
                (v, _) => v,
            };
            Body::SubmitMultiResp(SubmitMultiResp {
                message_id,
                unsuccess_sme: unsuccess.map(UnsuccessSmes::from),
                tlvs: Tlvs::new(),
            })
        }
        C::DataSm => Body::DataSm(DataSm {
            service_type: f.cstr("service_type")?,
            source_addr_ton: Ton(f.u8("source_addr_ton")?),
            source_addr_npi: Npi(f.u8("source_addr_npi")?),
            source_addr: f.cstr("source_addr")?,
            dest_addr_ton: Ton(f.u8("dest_addr_ton")?),
            dest_addr_npi: Npi(f.u8("dest_addr_npi")?),
            destination_addr: f.cstr("destination_addr")?,
            esm_class: EsmClass(f.u8("esm_class")?),
            registered_delivery: f.u8("registered_delivery")?,
            data_coding: DataCoding(f.u8("data_coding")?),
            tlvs: Tlvs::new(),
        }),
        C::QuerySm => Body::QuerySm(QuerySm {
            message_id: f.cstr("message_id")?,
            source_addr_ton: Ton(f.u8("source_addr_ton")?),
            source_addr_npi: Npi(f.u8("source_addr_npi")?),
            source_addr: f.cstr("source_addr")?,
            tlvs: Tlvs::new(),
        }),
        C::QuerySmResp => Body::QuerySmResp(QuerySmResp {
            message_id: f.cstr_opt("message_id")?,
            final_date: f.cstr_opt("final_date")?,
            message_state: f.int::<u8>("message_state")?.map(MessageState),
            error_code: f.int::<u8>("error_code")?,
            tlvs: Tlvs::new(),
        }),
        C::CancelSm => Body::CancelSm(CancelSm {
            service_type: f.cstr("service_type")?,
            message_id: f.cstr("message_id")?,
            source_addr_ton: Ton(f.u8("source_addr_ton")?),
            source_addr_npi: Npi(f.u8("source_addr_npi")?),
            source_addr: f.cstr("source_addr")?,
            dest_addr_ton: Ton(f.u8("dest_addr_ton")?),
            dest_addr_npi: Npi(f.u8("dest_addr_npi")?),
            destination_addr: f.cstr("destination_addr")?,
            tlvs: Tlvs::new(),
        }),
        C::ReplaceSm => {
            let r = ReplaceSm {
                message_id: f.cstr("message_id")?,
                source_addr_ton: Ton(f.u8("source_addr_ton")?),
                source_addr_npi: Npi(f.u8("source_addr_npi")?),
                source_addr: f.cstr("source_addr")?,
                schedule_delivery_time: f.cstr("schedule_delivery_time")?,
                validity_period: f.cstr("validity_period")?,
                registered_delivery: f.u8("registered_delivery")?,
                sm_default_msg_id: f.u8("sm_default_msg_id")?,
                short_message: f.hex("short_message")?,
                tlvs: Tlvs::new(),
            };
            f.count("sm_length", r.short_message.len())?;
            Body::ReplaceSm(r)
        }
        C::AlertNotification => Body::AlertNotification(AlertNotification {
            source_addr_ton: Ton(f.u8("source_addr_ton")?),
            source_addr_npi: Npi(f.u8("source_addr_npi")?),
            source_addr: f.cstr("source_addr")?,
            esme_addr_ton: Ton(f.u8("esme_addr_ton")?),
            esme_addr_npi: Npi(f.u8("esme_addr_npi")?),
            esme_addr: f.cstr("esme_addr")?,
            tlvs: Tlvs::new(),
        }),
    })
}
