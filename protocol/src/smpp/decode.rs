//! PDU body parsers (nom 8), one small parser per field kind, composed per operation (SMPP 3.4 §4).
//!
//! Every parser works on the body slice of one PDU (command_length already checked), borrows from it, and
//! fails with the field's name and the specification's status code.

use std::borrow::Cow;

use nom::IResult;
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::be_u32;

use super::error::PduError;
use super::list::{DestAddresses, UnsuccessSmes};
use super::pdu::*;
use super::status::CommandStatus as S;
use super::tlv::Tlvs;
use super::types::{CommandId, DataCoding, EsmClass, MessageState, Npi, Ton};
use super::{HEADER_LEN, PduHeader};

/// A C-octet string field: name, maximum size with NUL (SMPP 3.4 §4 tables), status for a bad value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CField {
    pub name: &'static str,
    pub max: usize,
    pub status: S,
}

const fn cf(name: &'static str, max: usize, status: S) -> CField {
    CField { name, max, status }
}

// Fields without a status of their own in §5.1.3 (address_range, final_date) answer ESME_RINVCMDLEN:
// their bytes do not parse as the body command_length announced. address_range is only sent in a bind
// request, where the matching bind_resp then carries that status.
pub(crate) const SYSTEM_ID: CField = cf("system_id", 16, S::ESME_RINVSYSID);
pub(crate) const PASSWORD: CField = cf("password", 9, S::ESME_RINVPASWD);
pub(crate) const SYSTEM_TYPE: CField = cf("system_type", 13, S::ESME_RINVSYSTYP);
pub(crate) const ADDRESS_RANGE: CField = cf("address_range", 41, S::ESME_RINVCMDLEN);
pub(crate) const SERVICE_TYPE: CField = cf("service_type", 6, S::ESME_RINVSERTYP);
pub(crate) const SOURCE_ADDR: CField = cf("source_addr", 21, S::ESME_RINVSRCADR);
pub(crate) const DESTINATION_ADDR: CField = cf("destination_addr", 21, S::ESME_RINVDSTADR);
pub(crate) const SOURCE_ADDR_65: CField = cf("source_addr", 65, S::ESME_RINVSRCADR);
pub(crate) const DESTINATION_ADDR_65: CField = cf("destination_addr", 65, S::ESME_RINVDSTADR);
pub(crate) const ESME_ADDR: CField = cf("esme_addr", 65, S::ESME_RINVDSTADR);
pub(crate) const SCHEDULE_DELIVERY_TIME: CField =
    cf("schedule_delivery_time", 17, S::ESME_RINVSCHED);
pub(crate) const VALIDITY_PERIOD: CField = cf("validity_period", 17, S::ESME_RINVEXPIRY);
pub(crate) const MESSAGE_ID: CField = cf("message_id", 65, S::ESME_RINVMSGID);
pub(crate) const DL_NAME: CField = cf("dl_name", 21, S::ESME_RINVDLNAME);
pub(crate) const FINAL_DATE: CField = cf("final_date", 17, S::ESME_RINVCMDLEN);

/// What went wrong, and where (the remaining input when it did).
#[derive(Debug)]
pub(crate) struct PErr<'a> {
    input: &'a [u8],
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A nom primitive failed: only reached through the field wrappers below, which rename it.
    Nom,
    Truncated(&'static str),
    Unterminated(CField),
    TooLong(CField),
    SmLength(u8),
    Invalid {
        field: &'static str,
        value: u32,
        status: S,
    },
    Tlv {
        stream_offset: usize,
        tag: Option<u16>,
    },
    Trailing,
}

impl<'a> ParseError<&'a [u8]> for PErr<'a> {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        PErr {
            input,
            kind: Kind::Nom,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a [u8], T, PErr<'a>>;

fn fail<'a, T>(input: &'a [u8], kind: Kind) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr { input, kind }))
}

/// A 1-octet integer field.
#[inline]
fn int8<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, u8> {
    // `split_first` instead of nom's `be_u8`: the generic version is not inlined and this runs ~15 times
    // per submit_sm on the gateway's hot path.
    move |i| match i.split_first() {
        Some((b, rest)) => Ok((rest, *b)),
        None => fail(i, Kind::Truncated(field)),
    }
}

/// A 4-octet integer field.
#[inline]
fn int32<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, u32> {
    move |i| be_u32::<_, PErr<'a>>(i).or_else(|_| fail(i, Kind::Truncated(field)))
}

/// A C-octet string (SMPP 3.4 §3.1): up to `max` octets including the NUL; returns the octets before it.
#[inline]
fn c_octet<'a>(f: CField) -> impl Fn(&'a [u8]) -> Res<'a, Cow<'a, [u8]>> {
    move |i| {
        let window = i.get(..f.max).unwrap_or(i);
        match window.iter().position(|&b| b == 0) {
            Some(p) => {
                let (s, rest) = i.split_at(p);
                Ok((rest.get(1..).unwrap_or(&[]), Cow::Borrowed(s)))
            }
            None if i.len() < f.max => fail(i, Kind::Unterminated(f)),
            None => fail(i, Kind::TooLong(f)),
        }
    }
}

/// sm_length and short_message (SMPP 3.4 §5.2.21-22): 0-254 octets, within the PDU.
#[inline]
fn short_message(i: &[u8]) -> Res<'_, Cow<'_, [u8]>> {
    let (rest, len) = int8("sm_length")(i)?;
    if len == 255 {
        return fail(
            i,
            Kind::Invalid {
                field: "sm_length",
                value: 255,
                status: S::ESME_RINVMSGLEN,
            },
        );
    }
    match rest.split_at_checked(usize::from(len)) {
        Some((sm, rest)) => Ok((rest, Cow::Borrowed(sm))),
        None => fail(i, Kind::SmLength(len)),
    }
}

/// The optional parameters: everything left in the body (SMPP 3.4 §3.2.4.1).
#[inline]
fn tlvs(i: &[u8]) -> Res<'_, Tlvs<'_>> {
    match Tlvs::parse(i) {
        Ok(t) => Ok((&[], t)),
        Err(e) => fail(
            i,
            Kind::Tlv {
                stream_offset: e.offset,
                tag: e.tag,
            },
        ),
    }
}

/// Nothing may follow (enquire_link, unbind).
#[inline]
fn end(i: &[u8]) -> Res<'_, ()> {
    if i.is_empty() {
        Ok((i, ()))
    } else {
        fail(i, Kind::Trailing)
    }
}

/// A response field that SMSCs leave out of error responses: absent when the body has ended.
#[inline]
fn opt_field<'a, T>(i: &'a [u8], p: impl Fn(&'a [u8]) -> Res<'a, T>) -> Res<'a, Option<T>> {
    if i.is_empty() {
        Ok((i, None))
    } else {
        let (i, v) = p(i)?;
        Ok((i, Some(v)))
    }
}

#[inline]
fn ton(field: &'static str) -> impl Fn(&[u8]) -> Res<'_, Ton> {
    move |i| int8(field)(i).map(|(i, v)| (i, Ton(v)))
}

#[inline]
fn npi(field: &'static str) -> impl Fn(&[u8]) -> Res<'_, Npi> {
    move |i| int8(field)(i).map(|(i, v)| (i, Npi(v)))
}

#[inline]
fn bind(i: &[u8]) -> Res<'_, Bind<'_>> {
    let (i, system_id) = c_octet(SYSTEM_ID)(i)?;
    let (i, password) = c_octet(PASSWORD)(i)?;
    let (i, system_type) = c_octet(SYSTEM_TYPE)(i)?;
    let (i, interface_version) = int8("interface_version")(i)?;
    let (i, addr_ton) = ton("addr_ton")(i)?;
    let (i, addr_npi) = npi("addr_npi")(i)?;
    let (i, address_range) = c_octet(ADDRESS_RANGE)(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        Bind {
            system_id,
            password,
            system_type,
            interface_version,
            addr_ton,
            addr_npi,
            address_range,
            tlvs,
        },
    ))
}

#[inline]
fn bind_resp(i: &[u8]) -> Res<'_, BindResp<'_>> {
    let (i, system_id) = opt_field(i, c_octet(SYSTEM_ID))?;
    let (i, tlvs) = tlvs(i)?;
    Ok((i, BindResp { system_id, tlvs }))
}

#[inline]
fn outbind(i: &[u8]) -> Res<'_, Outbind<'_>> {
    let (i, system_id) = c_octet(SYSTEM_ID)(i)?;
    let (i, password) = c_octet(PASSWORD)(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        Outbind {
            system_id,
            password,
            tlvs,
        },
    ))
}

#[inline]
fn message_id_resp(i: &[u8]) -> Res<'_, MessageIdResp<'_>> {
    let (i, message_id) = opt_field(i, c_octet(MESSAGE_ID))?;
    let (i, tlvs) = tlvs(i)?;
    Ok((i, MessageIdResp { message_id, tlvs }))
}

#[inline]
fn submit_sm(i: &[u8]) -> Res<'_, SubmitSm<'_>> {
    let (i, service_type) = c_octet(SERVICE_TYPE)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR)(i)?;
    let (i, dest_addr_ton) = ton("dest_addr_ton")(i)?;
    let (i, dest_addr_npi) = npi("dest_addr_npi")(i)?;
    let (i, destination_addr) = c_octet(DESTINATION_ADDR)(i)?;
    let (i, esm_class) = int8("esm_class")(i)?;
    let (i, protocol_id) = int8("protocol_id")(i)?;
    let (i, priority_flag) = int8("priority_flag")(i)?;
    let (i, schedule_delivery_time) = c_octet(SCHEDULE_DELIVERY_TIME)(i)?;
    let (i, validity_period) = c_octet(VALIDITY_PERIOD)(i)?;
    let (i, registered_delivery) = int8("registered_delivery")(i)?;
    let (i, replace_if_present_flag) = int8("replace_if_present_flag")(i)?;
    let (i, data_coding) = int8("data_coding")(i)?;
    let (i, sm_default_msg_id) = int8("sm_default_msg_id")(i)?;
    let (i, short_message) = short_message(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        SubmitSm {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class: EsmClass(esm_class),
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding: DataCoding(data_coding),
            sm_default_msg_id,
            short_message,
            tlvs,
        },
    ))
}

fn dest_address(i: &[u8]) -> Res<'_, DestAddress<'_>> {
    let (rest, flag) = int8("dest_flag")(i)?;
    match flag {
        1 => {
            let (rest, dest_addr_ton) = ton("dest_addr_ton")(rest)?;
            let (rest, dest_addr_npi) = npi("dest_addr_npi")(rest)?;
            let (rest, destination_addr) = c_octet(DESTINATION_ADDR)(rest)?;
            Ok((
                rest,
                DestAddress::Sme {
                    dest_addr_ton,
                    dest_addr_npi,
                    destination_addr,
                },
            ))
        }
        2 => {
            let (rest, dl_name) = c_octet(DL_NAME)(rest)?;
            Ok((rest, DestAddress::DistributionList { dl_name }))
        }
        v => fail(
            i,
            Kind::Invalid {
                field: "dest_flag",
                value: v.into(),
                status: S::ESME_RINVDESTFLAG,
            },
        ),
    }
}

/// `n` dest_address entries, checked one by one; the list borrows their bytes.
fn dest_addresses(i: &[u8], n: u8) -> Res<'_, DestAddresses<'_>> {
    let mut rest = i;
    for _ in 0..n {
        rest = dest_address(rest)?.0;
    }
    let used = i.len().saturating_sub(rest.len());
    let bytes = i.get(..used).unwrap_or(i);
    Ok((rest, DestAddresses::from_validated(bytes, n)))
}

/// `n` unsuccess_sme entries, checked one by one; the list borrows their bytes.
fn unsuccess_smes(i: &[u8], n: u8) -> Res<'_, UnsuccessSmes<'_>> {
    let mut rest = i;
    for _ in 0..n {
        rest = unsuccess_sme(rest)?.0;
    }
    let used = i.len().saturating_sub(rest.len());
    let bytes = i.get(..used).unwrap_or(i);
    Ok((rest, UnsuccessSmes::from_validated(bytes, n)))
}

/// [`DestAddresses::parse`]: errors with offsets from the start of `input`.
pub(crate) fn parse_dest_addresses(
    input: &[u8],
    n: u8,
) -> Result<(DestAddresses<'_>, &[u8]), PduError> {
    standalone(input, dest_addresses(input, n))
}

/// [`UnsuccessSmes::parse`]: errors with offsets from the start of `input`.
pub(crate) fn parse_unsuccess_smes(
    input: &[u8],
    n: u8,
) -> Result<(UnsuccessSmes<'_>, &[u8]), PduError> {
    standalone(input, unsuccess_smes(input, n))
}

fn standalone<'a, T>(input: &'a [u8], r: Res<'a, T>) -> Result<(T, &'a [u8]), PduError> {
    match r {
        Ok((rest, v)) => Ok((v, rest)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(to_error(0, input.len(), e)),
        Err(nom::Err::Incomplete(_)) => Err(PduError::Truncated {
            field: "body",
            offset: 0,
        }),
    }
}

#[inline]
fn submit_multi(i: &[u8]) -> Res<'_, SubmitMulti<'_>> {
    let (i, service_type) = c_octet(SERVICE_TYPE)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR)(i)?;
    let (i, n) = int8("number_of_dests")(i)?;
    if n == 0 || n == 255 {
        let value = n.into();
        return fail(
            i,
            Kind::Invalid {
                field: "number_of_dests",
                value,
                status: S::ESME_RINVNUMDESTS,
            },
        );
    }
    // Only checks the entries and keeps their bytes: nothing is allocated, whatever the count.
    let (i, dest) = dest_addresses(i, n)?;
    let (i, esm_class) = int8("esm_class")(i)?;
    let (i, protocol_id) = int8("protocol_id")(i)?;
    let (i, priority_flag) = int8("priority_flag")(i)?;
    let (i, schedule_delivery_time) = c_octet(SCHEDULE_DELIVERY_TIME)(i)?;
    let (i, validity_period) = c_octet(VALIDITY_PERIOD)(i)?;
    let (i, registered_delivery) = int8("registered_delivery")(i)?;
    let (i, replace_if_present_flag) = int8("replace_if_present_flag")(i)?;
    let (i, data_coding) = int8("data_coding")(i)?;
    let (i, sm_default_msg_id) = int8("sm_default_msg_id")(i)?;
    let (i, short_message) = short_message(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        SubmitMulti {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_address: dest,
            esm_class: EsmClass(esm_class),
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding: DataCoding(data_coding),
            sm_default_msg_id,
            short_message,
            tlvs,
        },
    ))
}

fn unsuccess_sme(i: &[u8]) -> Res<'_, UnsuccessSme<'_>> {
    let (i, dest_addr_ton) = ton("dest_addr_ton")(i)?;
    let (i, dest_addr_npi) = npi("dest_addr_npi")(i)?;
    let (i, destination_addr) = c_octet(DESTINATION_ADDR)(i)?;
    let (i, code) = int32("error_status_code")(i)?;
    Ok((
        i,
        UnsuccessSme {
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            error_status_code: S(code),
        },
    ))
}

#[inline]
fn submit_multi_resp(i: &[u8]) -> Res<'_, SubmitMultiResp<'_>> {
    let (i, message_id) = opt_field(i, c_octet(MESSAGE_ID))?;
    let (i, unsuccess) = if message_id.is_some() {
        opt_field(i, |i| {
            let (i, n) = int8("no_unsuccess")(i)?;
            unsuccess_smes(i, n)
        })?
    } else {
        (i, None)
    };
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        SubmitMultiResp {
            message_id,
            unsuccess_sme: unsuccess,
            tlvs,
        },
    ))
}

#[inline]
fn data_sm(i: &[u8]) -> Res<'_, DataSm<'_>> {
    let (i, service_type) = c_octet(SERVICE_TYPE)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR_65)(i)?;
    let (i, dest_addr_ton) = ton("dest_addr_ton")(i)?;
    let (i, dest_addr_npi) = npi("dest_addr_npi")(i)?;
    let (i, destination_addr) = c_octet(DESTINATION_ADDR_65)(i)?;
    let (i, esm_class) = int8("esm_class")(i)?;
    let (i, registered_delivery) = int8("registered_delivery")(i)?;
    let (i, data_coding) = int8("data_coding")(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        DataSm {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class: EsmClass(esm_class),
            registered_delivery,
            data_coding: DataCoding(data_coding),
            tlvs,
        },
    ))
}

#[inline]
fn query_sm(i: &[u8]) -> Res<'_, QuerySm<'_>> {
    let (i, message_id) = c_octet(MESSAGE_ID)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR)(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        QuerySm {
            message_id,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            tlvs,
        },
    ))
}

#[inline]
fn query_sm_resp(i: &[u8]) -> Res<'_, QuerySmResp<'_>> {
    let (i, message_id) = opt_field(i, c_octet(MESSAGE_ID))?;
    let (i, final_date) = if message_id.is_some() {
        opt_field(i, c_octet(FINAL_DATE))?
    } else {
        (i, None)
    };
    let (i, message_state) = if final_date.is_some() {
        opt_field(i, int8("message_state"))?
    } else {
        (i, None)
    };
    let (i, error_code) = if message_state.is_some() {
        opt_field(i, int8("error_code"))?
    } else {
        (i, None)
    };
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        QuerySmResp {
            message_id,
            final_date,
            message_state: message_state.map(MessageState),
            error_code,
            tlvs,
        },
    ))
}

#[inline]
fn cancel_sm(i: &[u8]) -> Res<'_, CancelSm<'_>> {
    let (i, service_type) = c_octet(SERVICE_TYPE)(i)?;
    let (i, message_id) = c_octet(MESSAGE_ID)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR)(i)?;
    let (i, dest_addr_ton) = ton("dest_addr_ton")(i)?;
    let (i, dest_addr_npi) = npi("dest_addr_npi")(i)?;
    let (i, destination_addr) = c_octet(DESTINATION_ADDR)(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        CancelSm {
            service_type,
            message_id,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            tlvs,
        },
    ))
}

#[inline]
fn replace_sm(i: &[u8]) -> Res<'_, ReplaceSm<'_>> {
    let (i, message_id) = c_octet(MESSAGE_ID)(i)?;
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR)(i)?;
    let (i, schedule_delivery_time) = c_octet(SCHEDULE_DELIVERY_TIME)(i)?;
    let (i, validity_period) = c_octet(VALIDITY_PERIOD)(i)?;
    let (i, registered_delivery) = int8("registered_delivery")(i)?;
    let (i, sm_default_msg_id) = int8("sm_default_msg_id")(i)?;
    let (i, short_message) = short_message(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        ReplaceSm {
            message_id,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            sm_default_msg_id,
            short_message,
            tlvs,
        },
    ))
}

#[inline]
fn alert_notification(i: &[u8]) -> Res<'_, AlertNotification<'_>> {
    let (i, source_addr_ton) = ton("source_addr_ton")(i)?;
    let (i, source_addr_npi) = npi("source_addr_npi")(i)?;
    let (i, source_addr) = c_octet(SOURCE_ADDR_65)(i)?;
    let (i, esme_addr_ton) = ton("esme_addr_ton")(i)?;
    let (i, esme_addr_npi) = npi("esme_addr_npi")(i)?;
    let (i, esme_addr) = c_octet(ESME_ADDR)(i)?;
    let (i, tlvs) = tlvs(i)?;
    Ok((
        i,
        AlertNotification {
            source_addr_ton,
            source_addr_npi,
            source_addr,
            esme_addr_ton,
            esme_addr_npi,
            esme_addr,
            tlvs,
        },
    ))
}

#[inline(always)]
fn body(id: CommandId, i: &[u8]) -> Res<'_, Body<'_>> {
    use CommandId as C;
    match id {
        C::BindReceiver => bind(i).map(|(i, b)| (i, Body::BindReceiver(b))),
        C::BindTransmitter => bind(i).map(|(i, b)| (i, Body::BindTransmitter(b))),
        C::BindTransceiver => bind(i).map(|(i, b)| (i, Body::BindTransceiver(b))),
        C::BindReceiverResp => bind_resp(i).map(|(i, b)| (i, Body::BindReceiverResp(b))),
        C::BindTransmitterResp => bind_resp(i).map(|(i, b)| (i, Body::BindTransmitterResp(b))),
        C::BindTransceiverResp => bind_resp(i).map(|(i, b)| (i, Body::BindTransceiverResp(b))),
        C::Outbind => outbind(i).map(|(i, b)| (i, Body::Outbind(b))),
        C::Unbind => end(i).map(|(i, ())| (i, Body::Unbind)),
        C::UnbindResp => tlvs(i).map(|(i, t)| (i, Body::UnbindResp(t))),
        C::GenericNack => tlvs(i).map(|(i, t)| (i, Body::GenericNack(t))),
        C::SubmitSm => submit_sm(i).map(|(i, b)| (i, Body::SubmitSm(b))),
        C::SubmitSmResp => message_id_resp(i).map(|(i, b)| (i, Body::SubmitSmResp(b))),
        C::SubmitMulti => submit_multi(i).map(|(i, b)| (i, Body::SubmitMulti(b))),
        C::SubmitMultiResp => submit_multi_resp(i).map(|(i, b)| (i, Body::SubmitMultiResp(b))),
        C::DeliverSm => submit_sm(i).map(|(i, b)| (i, Body::DeliverSm(b))),
        C::DeliverSmResp => message_id_resp(i).map(|(i, b)| (i, Body::DeliverSmResp(b))),
        C::DataSm => data_sm(i).map(|(i, b)| (i, Body::DataSm(b))),
        C::DataSmResp => message_id_resp(i).map(|(i, b)| (i, Body::DataSmResp(b))),
        C::QuerySm => query_sm(i).map(|(i, b)| (i, Body::QuerySm(b))),
        C::QuerySmResp => query_sm_resp(i).map(|(i, b)| (i, Body::QuerySmResp(b))),
        C::CancelSm => cancel_sm(i).map(|(i, b)| (i, Body::CancelSm(b))),
        C::CancelSmResp => tlvs(i).map(|(i, t)| (i, Body::CancelSmResp(t))),
        C::ReplaceSm => replace_sm(i).map(|(i, b)| (i, Body::ReplaceSm(b))),
        C::ReplaceSmResp => tlvs(i).map(|(i, t)| (i, Body::ReplaceSmResp(t))),
        C::EnquireLink => end(i).map(|(i, ())| (i, Body::EnquireLink)),
        C::EnquireLinkResp => tlvs(i).map(|(i, t)| (i, Body::EnquireLinkResp(t))),
        C::AlertNotification => alert_notification(i).map(|(i, b)| (i, Body::AlertNotification(b))),
    }
}

/// Decodes the body of a PDU whose header is `header`; `body` is exactly the octets after the header.
#[inline(always)]
pub(crate) fn decode_body<'a>(header: &PduHeader, body: &'a [u8]) -> Result<Body<'a>, PduError> {
    let id = CommandId::from_u32(header.command_id).ok_or(PduError::UnknownCommand {
        command_id: header.command_id,
    })?;
    match self::body(id, body) {
        Ok((_, b)) => Ok(b),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(to_pdu_error(body.len(), e)),
        // Only streaming parsers ask for more input; these are all `complete`.
        Err(nom::Err::Incomplete(_)) => Err(PduError::Truncated {
            field: "body",
            offset: HEADER_LEN,
        }),
    }
}

fn to_pdu_error(body_len: usize, e: PErr<'_>) -> PduError {
    to_error(HEADER_LEN, body_len, e)
}

/// The error `e` met in an input of `len` octets that starts `base` octets into the PDU.
fn to_error(base: usize, len: usize, e: PErr<'_>) -> PduError {
    let offset = base + len.saturating_sub(e.input.len());
    match e.kind {
        Kind::Nom => PduError::Truncated {
            field: "body",
            offset,
        },
        Kind::Truncated(field) => PduError::Truncated { field, offset },
        Kind::Unterminated(f) => PduError::Unterminated {
            field: f.name,
            max: f.max,
            offset,
            status: f.status,
        },
        Kind::TooLong(f) => PduError::FieldTooLong {
            field: f.name,
            max: f.max,
            offset,
            status: f.status,
        },
        Kind::SmLength(sm_length) => PduError::SmLength {
            sm_length,
            available: e.input.len().saturating_sub(1),
            offset,
        },
        Kind::Invalid {
            field,
            value,
            status,
        } => PduError::InvalidValue {
            field,
            value,
            offset,
            status,
        },
        Kind::Tlv { stream_offset, tag } => PduError::TlvStream {
            offset: offset.saturating_add(stream_offset),
            tag,
        },
        Kind::Trailing => PduError::TrailingOctets {
            offset,
            len: e.input.len(),
        },
    }
}
