//! PDU encoders (SMPP 3.4 §3.2, §4): one field walk per body, run twice — once counting octets for
//! command_length, once writing them into a `bytes::BufMut`.

use bytes::{BufMut, BytesMut};

use super::decode::{self as d, CField};
use super::error::PduError;
use super::pdu::*;
use super::status::CommandStatus;
use super::tlv::Tlvs;

/// Where the field walk goes: a counter or a buffer.
trait Sink {
    fn u8(&mut self, v: u8);
    fn u32(&mut self, v: u32);
    fn bytes(&mut self, v: &[u8]);
}

struct Count(usize);

impl Sink for Count {
    #[inline]
    fn u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn u32(&mut self, _: u32) {
        self.0 += 4;
    }
    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        self.0 += v.len();
    }
}

/// Writes into a slice sized by [`Count`] beforehand: no capacity checks per field, as `BytesMut::put_*`
/// would do. A slice too short (it never is) drops the excess instead of panicking.
struct Slice<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Sink for Slice<'_> {
    #[inline]
    fn u8(&mut self, v: u8) {
        if let Some(b) = self.buf.get_mut(self.pos) {
            *b = v;
        }
        self.pos += 1;
    }
    #[inline]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        let end = self.pos + v.len();
        if let Some(d) = self.buf.get_mut(self.pos..end) {
            d.copy_from_slice(v);
        }
        self.pos = end;
    }
}

struct Put<'b, B>(&'b mut B);

impl<B: BufMut> Sink for Put<'_, B> {
    #[inline]
    fn u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
    #[inline]
    fn u32(&mut self, v: u32) {
        self.0.put_u32(v);
    }
    #[inline]
    fn bytes(&mut self, v: &[u8]) {
        self.0.put_slice(v);
    }
}

#[inline]
fn c_octet<S: Sink>(s: &mut S, v: &[u8]) {
    s.bytes(v);
    s.u8(0);
}

/// sm_length + short_message. More than 255 octets cannot be said in sm_length: the excess is left out so the
/// frame stays consistent ([`Pdu::validate`] reports it).
#[inline]
fn short_message<S: Sink>(s: &mut S, v: &[u8]) {
    let n = v.len().min(255);
    s.u8(n as u8);
    s.bytes(v.get(..n).unwrap_or(v));
}

#[inline]
fn tlvs<S: Sink>(s: &mut S, t: &Tlvs<'_>) {
    s.bytes(t.as_bytes());
}

fn bind<S: Sink>(s: &mut S, b: &Bind<'_>) {
    c_octet(s, &b.system_id);
    c_octet(s, &b.password);
    c_octet(s, &b.system_type);
    s.u8(b.interface_version);
    s.u8(b.addr_ton.0);
    s.u8(b.addr_npi.0);
    c_octet(s, &b.address_range);
    tlvs(s, &b.tlvs);
}

fn submit_sm<S: Sink>(s: &mut S, b: &SubmitSm<'_>) {
    c_octet(s, &b.service_type);
    s.u8(b.source_addr_ton.0);
    s.u8(b.source_addr_npi.0);
    c_octet(s, &b.source_addr);
    s.u8(b.dest_addr_ton.0);
    s.u8(b.dest_addr_npi.0);
    c_octet(s, &b.destination_addr);
    s.u8(b.esm_class.0);
    s.u8(b.protocol_id);
    s.u8(b.priority_flag);
    c_octet(s, &b.schedule_delivery_time);
    c_octet(s, &b.validity_period);
    s.u8(b.registered_delivery);
    s.u8(b.replace_if_present_flag);
    s.u8(b.data_coding.0);
    s.u8(b.sm_default_msg_id);
    short_message(s, &b.short_message);
    tlvs(s, &b.tlvs);
}

fn message_id_resp<S: Sink>(s: &mut S, b: &MessageIdResp<'_>) {
    if let Some(m) = &b.message_id {
        c_octet(s, m);
    }
    tlvs(s, &b.tlvs);
}

fn submit_multi<S: Sink>(s: &mut S, b: &SubmitMulti<'_>) {
    c_octet(s, &b.service_type);
    s.u8(b.source_addr_ton.0);
    s.u8(b.source_addr_npi.0);
    c_octet(s, &b.source_addr);
    // number_of_dests is one octet; entries past 255 are left out ([`Pdu::validate`] reports it).
    s.u8(b.dest_address.len().min(255) as u8);
    s.bytes(b.dest_address.wire_prefix(255));
    s.u8(b.esm_class.0);
    s.u8(b.protocol_id);
    s.u8(b.priority_flag);
    c_octet(s, &b.schedule_delivery_time);
    c_octet(s, &b.validity_period);
    s.u8(b.registered_delivery);
    s.u8(b.replace_if_present_flag);
    s.u8(b.data_coding.0);
    s.u8(b.sm_default_msg_id);
    short_message(s, &b.short_message);
    tlvs(s, &b.tlvs);
}

fn submit_multi_resp<S: Sink>(s: &mut S, b: &SubmitMultiResp<'_>) {
    if let Some(m) = &b.message_id {
        c_octet(s, m);
        if let Some(list) = &b.unsuccess_sme {
            s.u8(list.len().min(255) as u8);
            s.bytes(list.wire_prefix(255));
        }
    }
    tlvs(s, &b.tlvs);
}

fn data_sm<S: Sink>(s: &mut S, b: &DataSm<'_>) {
    c_octet(s, &b.service_type);
    s.u8(b.source_addr_ton.0);
    s.u8(b.source_addr_npi.0);
    c_octet(s, &b.source_addr);
    s.u8(b.dest_addr_ton.0);
    s.u8(b.dest_addr_npi.0);
    c_octet(s, &b.destination_addr);
    s.u8(b.esm_class.0);
    s.u8(b.registered_delivery);
    s.u8(b.data_coding.0);
    tlvs(s, &b.tlvs);
}

fn query_sm_resp<S: Sink>(s: &mut S, b: &QuerySmResp<'_>) {
    // Fields are written up to the first absent one: the body of an error response may stop anywhere.
    if let Some(m) = &b.message_id {
        c_octet(s, m);
        if let Some(f) = &b.final_date {
            c_octet(s, f);
            if let Some(st) = b.message_state {
                s.u8(st.0);
                if let Some(e) = b.error_code {
                    s.u8(e);
                }
            }
        }
    }
    tlvs(s, &b.tlvs);
}

#[inline]
fn body<S: Sink>(s: &mut S, body: &Body<'_>) {
    match body {
        Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => bind(s, b),
        Body::BindReceiverResp(b) | Body::BindTransmitterResp(b) | Body::BindTransceiverResp(b) => {
            if let Some(id) = &b.system_id {
                c_octet(s, id);
            }
            tlvs(s, &b.tlvs);
        }
        Body::Outbind(b) => {
            c_octet(s, &b.system_id);
            c_octet(s, &b.password);
            tlvs(s, &b.tlvs);
        }
        Body::Unbind | Body::EnquireLink => {}
        Body::UnbindResp(t)
        | Body::GenericNack(t)
        | Body::CancelSmResp(t)
        | Body::ReplaceSmResp(t)
        | Body::EnquireLinkResp(t) => tlvs(s, t),
        Body::SubmitSm(b) | Body::DeliverSm(b) => submit_sm(s, b),
        Body::SubmitSmResp(b) | Body::DeliverSmResp(b) | Body::DataSmResp(b) => {
            message_id_resp(s, b)
        }
        Body::SubmitMulti(b) => submit_multi(s, b),
        Body::SubmitMultiResp(b) => submit_multi_resp(s, b),
        Body::DataSm(b) => data_sm(s, b),
        Body::QuerySm(b) => {
            c_octet(s, &b.message_id);
            s.u8(b.source_addr_ton.0);
            s.u8(b.source_addr_npi.0);
            c_octet(s, &b.source_addr);
            tlvs(s, &b.tlvs);
        }
        Body::QuerySmResp(b) => query_sm_resp(s, b),
        Body::CancelSm(b) => {
            c_octet(s, &b.service_type);
            c_octet(s, &b.message_id);
            s.u8(b.source_addr_ton.0);
            s.u8(b.source_addr_npi.0);
            c_octet(s, &b.source_addr);
            s.u8(b.dest_addr_ton.0);
            s.u8(b.dest_addr_npi.0);
            c_octet(s, &b.destination_addr);
            tlvs(s, &b.tlvs);
        }
        Body::ReplaceSm(b) => {
            c_octet(s, &b.message_id);
            s.u8(b.source_addr_ton.0);
            s.u8(b.source_addr_npi.0);
            c_octet(s, &b.source_addr);
            c_octet(s, &b.schedule_delivery_time);
            c_octet(s, &b.validity_period);
            s.u8(b.registered_delivery);
            s.u8(b.sm_default_msg_id);
            short_message(s, &b.short_message);
            tlvs(s, &b.tlvs);
        }
        Body::AlertNotification(b) => {
            s.u8(b.source_addr_ton.0);
            s.u8(b.source_addr_npi.0);
            c_octet(s, &b.source_addr);
            s.u8(b.esme_addr_ton.0);
            s.u8(b.esme_addr_npi.0);
            c_octet(s, &b.esme_addr);
            tlvs(s, &b.tlvs);
        }
    }
}

impl Pdu<'_> {
    /// command_length: the octets [`Pdu::encode`] writes (SMPP 3.4 §3.2).
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let mut c = Count(super::HEADER_LEN);
        body(&mut c, &self.body);
        c.0
    }

    /// Writes the PDU, header with command_length included, into any `BufMut`.
    ///
    /// Encoding does not fail: fields are written as given. Check a PDU built from untrusted values with
    /// [`Pdu::validate`] first; for every valid PDU `Pdu::decode(&bytes) == Ok(pdu)`.
    pub fn write_to<B: BufMut>(&self, buf: &mut B) {
        let len = self.encoded_len();
        header(&mut Put(buf), self, len);
        body(&mut Put(buf), &self.body);
    }

    /// Appends the PDU to `buf` (command_length included).
    #[inline]
    pub fn encode(&self, buf: &mut BytesMut) {
        let len = self.encoded_len();
        buf.reserve(len);
        buf.extend_from_slice(&self.header_octets(len));
        let body_len = len.saturating_sub(super::HEADER_LEN);
        if body_len > 0 {
            let start = buf.len();
            buf.resize(start + body_len, 0);
            let mut s = Slice {
                buf: buf.get_mut(start..).unwrap_or_default(),
                pos: 0,
            };
            body(&mut s, &self.body);
        }
    }

    #[inline]
    fn header_octets(&self, len: usize) -> [u8; super::HEADER_LEN] {
        let mut h = [0u8; super::HEADER_LEN];
        header(
            &mut Slice {
                buf: &mut h,
                pos: 0,
            },
            self,
            len,
        );
        h
    }

    /// Writes the PDU at the start of `out`; returns its length, or `None` (nothing written) when `out`
    /// is shorter than [`Pdu::encoded_len`].
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        self.fill(out.get_mut(..len)?, len);
        Some(len)
    }

    /// The PDU's octets.
    pub fn to_vec(&self) -> Vec<u8> {
        let len = self.encoded_len();
        let mut v = vec![0; len];
        self.fill(&mut v, len);
        v
    }

    #[inline]
    fn fill(&self, out: &mut [u8], len: usize) {
        let mut s = Slice { buf: out, pos: 0 };
        header(&mut s, self, len);
        body(&mut s, &self.body);
    }

    /// Checks what [`Pdu::encode`] cannot say on the wire or what the peer would reject: C-octet strings
    /// longer than their maximum or containing NUL, short_message over 254 octets, number_of_dests outside
    /// 1-254, response fields present after an absent one.
    pub fn validate(&self) -> Result<(), PduError> {
        validate_body(&self.body)
    }
}

#[inline]
fn header<S: Sink>(s: &mut S, p: &Pdu<'_>, len: usize) {
    s.u32(u32::try_from(len).unwrap_or(u32::MAX));
    s.u32(p.command_id().as_u32());
    s.u32(p.command_status.0);
    s.u32(p.sequence_number);
}

pub(crate) fn check_c(f: CField, v: &[u8]) -> Result<(), PduError> {
    if v.contains(&0) {
        return Err(PduError::ContainsNul {
            field: f.name,
            status: f.status,
        });
    }
    if v.len() >= f.max {
        return Err(PduError::FieldTooLong {
            field: f.name,
            max: f.max,
            offset: 0,
            status: f.status,
        });
    }
    Ok(())
}

fn check_sm(v: &[u8]) -> Result<(), PduError> {
    if v.len() > 254 {
        let value = u32::try_from(v.len()).unwrap_or(u32::MAX);
        return Err(PduError::InvalidValue {
            field: "sm_length",
            value,
            offset: 0,
            status: CommandStatus::ESME_RINVMSGLEN,
        });
    }
    Ok(())
}

fn check_gap(present: bool, field: &'static str, later: bool) -> Result<(), PduError> {
    if !present && later {
        Err(PduError::FieldAfterAbsent { field })
    } else {
        Ok(())
    }
}

fn validate_body(b: &Body<'_>) -> Result<(), PduError> {
    match b {
        Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => {
            check_c(d::SYSTEM_ID, &b.system_id)?;
            check_c(d::PASSWORD, &b.password)?;
            check_c(d::SYSTEM_TYPE, &b.system_type)?;
            check_c(d::ADDRESS_RANGE, &b.address_range)
        }
        Body::BindReceiverResp(b) | Body::BindTransmitterResp(b) | Body::BindTransceiverResp(b) => {
            check_gap(b.system_id.is_some(), "tlvs", !b.tlvs.is_empty())?;
            b.system_id
                .as_deref()
                .map_or(Ok(()), |v| check_c(d::SYSTEM_ID, v))
        }
        Body::Outbind(b) => {
            check_c(d::SYSTEM_ID, &b.system_id)?;
            check_c(d::PASSWORD, &b.password)
        }
        Body::SubmitSm(b) | Body::DeliverSm(b) => {
            check_c(d::SERVICE_TYPE, &b.service_type)?;
            check_c(d::SOURCE_ADDR, &b.source_addr)?;
            check_c(d::DESTINATION_ADDR, &b.destination_addr)?;
            check_c(d::SCHEDULE_DELIVERY_TIME, &b.schedule_delivery_time)?;
            check_c(d::VALIDITY_PERIOD, &b.validity_period)?;
            check_sm(&b.short_message)
        }
        Body::SubmitSmResp(b) | Body::DeliverSmResp(b) | Body::DataSmResp(b) => {
            check_gap(b.message_id.is_some(), "tlvs", !b.tlvs.is_empty())?;
            b.message_id
                .as_deref()
                .map_or(Ok(()), |v| check_c(d::MESSAGE_ID, v))
        }
        Body::SubmitMulti(b) => {
            check_c(d::SERVICE_TYPE, &b.service_type)?;
            check_c(d::SOURCE_ADDR, &b.source_addr)?;
            if b.dest_address.is_empty() || b.dest_address.len() > 254 {
                let value = u32::try_from(b.dest_address.len()).unwrap_or(u32::MAX);
                let status = CommandStatus::ESME_RINVNUMDESTS;
                return Err(PduError::InvalidValue {
                    field: "number_of_dests",
                    value,
                    offset: 0,
                    status,
                });
            }
            if let Some(e) = b.dest_address.invalid() {
                return Err(e);
            }
            check_c(d::SCHEDULE_DELIVERY_TIME, &b.schedule_delivery_time)?;
            check_c(d::VALIDITY_PERIOD, &b.validity_period)?;
            check_sm(&b.short_message)
        }
        Body::SubmitMultiResp(b) => {
            check_gap(
                b.message_id.is_some(),
                "unsuccess_sme",
                b.unsuccess_sme.is_some(),
            )?;
            check_gap(b.unsuccess_sme.is_some(), "tlvs", !b.tlvs.is_empty())?;
            if let Some(m) = &b.message_id {
                check_c(d::MESSAGE_ID, m)?;
            }
            if let Some(list) = &b.unsuccess_sme {
                if list.len() > 255 {
                    let value = u32::try_from(list.len()).unwrap_or(u32::MAX);
                    let status = CommandStatus::ESME_RINVNUMDESTS;
                    return Err(PduError::InvalidValue {
                        field: "no_unsuccess",
                        value,
                        offset: 0,
                        status,
                    });
                }
                if let Some(e) = list.invalid() {
                    return Err(e);
                }
            }
            Ok(())
        }
        Body::DataSm(b) => {
            check_c(d::SERVICE_TYPE, &b.service_type)?;
            check_c(d::SOURCE_ADDR_65, &b.source_addr)?;
            check_c(d::DESTINATION_ADDR_65, &b.destination_addr)
        }
        Body::QuerySm(b) => {
            check_c(d::MESSAGE_ID, &b.message_id)?;
            check_c(d::SOURCE_ADDR, &b.source_addr)
        }
        Body::QuerySmResp(b) => {
            check_gap(b.message_id.is_some(), "final_date", b.final_date.is_some())?;
            check_gap(
                b.final_date.is_some(),
                "message_state",
                b.message_state.is_some(),
            )?;
            check_gap(
                b.message_state.is_some(),
                "error_code",
                b.error_code.is_some(),
            )?;
            check_gap(b.error_code.is_some(), "tlvs", !b.tlvs.is_empty())?;
            b.message_id
                .as_deref()
                .map_or(Ok(()), |v| check_c(d::MESSAGE_ID, v))?;
            b.final_date
                .as_deref()
                .map_or(Ok(()), |v| check_c(d::FINAL_DATE, v))
        }
        Body::CancelSm(b) => {
            check_c(d::SERVICE_TYPE, &b.service_type)?;
            check_c(d::MESSAGE_ID, &b.message_id)?;
            check_c(d::SOURCE_ADDR, &b.source_addr)?;
            check_c(d::DESTINATION_ADDR, &b.destination_addr)
        }
        Body::ReplaceSm(b) => {
            check_c(d::MESSAGE_ID, &b.message_id)?;
            check_c(d::SOURCE_ADDR, &b.source_addr)?;
            check_c(d::SCHEDULE_DELIVERY_TIME, &b.schedule_delivery_time)?;
            check_c(d::VALIDITY_PERIOD, &b.validity_period)?;
            check_sm(&b.short_message)
        }
        Body::AlertNotification(b) => {
            check_c(d::SOURCE_ADDR_65, &b.source_addr)?;
            check_c(d::ESME_ADDR, &b.esme_addr)
        }
        Body::Unbind
        | Body::EnquireLink
        | Body::UnbindResp(_)
        | Body::GenericNack(_)
        | Body::CancelSmResp(_)
        | Body::ReplaceSmResp(_)
        | Body::EnquireLinkResp(_) => Ok(()),
    }
}
