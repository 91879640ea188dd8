//! PDU values: one struct per body layout of SMPP 3.4 §4, borrowing from the decoded buffer.

use std::borrow::Cow;

use super::list::{DestAddresses, UnsuccessSmes};
use super::status::CommandStatus;
use super::tlv::Tlvs;
use super::types::{CommandId, DataCoding, EsmClass, MessageState, NetworkErrorCode, Npi, Ton};

/// C-octet string contents (without the NUL) or short_message octets, borrowed from the wire when decoded.
pub type Octets<'a> = Cow<'a, [u8]>;

fn own(o: Octets<'_>) -> Octets<'static> {
    Cow::Owned(o.into_owned())
}

fn own_opt(o: Option<Octets<'_>>) -> Option<Octets<'static>> {
    o.map(own)
}

/// One SMPP PDU: the header fields that are not derived (command_length and command_id come from the body)
/// and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// command_status (SMPP 3.4 §5.1.3); ESME_ROK in requests.
    pub command_status: CommandStatus,
    /// sequence_number (SMPP 3.4 §3.2): a response carries its request's.
    pub sequence_number: u32,
    /// The operation and its fields.
    pub body: Body<'a>,
}

/// The body of each SMPP 3.4 operation (§4).
///
/// Every body struct keeps the optional parameters found after its mandatory fields (responses included,
/// as real SMSCs send them), so decoding then encoding gives back the same octets. enquire_link and unbind
/// have no body at all; their responses and generic_nack accept trailing TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// bind_receiver, §4.1.3.
    BindReceiver(Bind<'a>),
    /// bind_receiver_resp, §4.1.4.
    BindReceiverResp(BindResp<'a>),
    /// bind_transmitter, §4.1.1.
    BindTransmitter(Bind<'a>),
    /// bind_transmitter_resp, §4.1.2.
    BindTransmitterResp(BindResp<'a>),
    /// bind_transceiver, §4.1.5.
    BindTransceiver(Bind<'a>),
    /// bind_transceiver_resp, §4.1.6.
    BindTransceiverResp(BindResp<'a>),
    /// outbind, §4.1.7.
    Outbind(Outbind<'a>),
    /// unbind, §4.2.1.
    Unbind,
    /// unbind_resp, §4.2.2.
    UnbindResp(Tlvs<'a>),
    /// generic_nack, §4.3.1.
    GenericNack(Tlvs<'a>),
    /// submit_sm, §4.4.1.
    SubmitSm(SubmitSm<'a>),
    /// submit_sm_resp, §4.4.2.
    SubmitSmResp(MessageIdResp<'a>),
    /// submit_multi, §4.5.1.
    SubmitMulti(SubmitMulti<'a>),
    /// submit_multi_resp, §4.5.2.
    SubmitMultiResp(SubmitMultiResp<'a>),
    /// deliver_sm, §4.6.1 (same fields as submit_sm).
    DeliverSm(DeliverSm<'a>),
    /// deliver_sm_resp, §4.6.2.
    DeliverSmResp(MessageIdResp<'a>),
    /// data_sm, §4.7.1.
    DataSm(DataSm<'a>),
    /// data_sm_resp, §4.7.2.
    DataSmResp(MessageIdResp<'a>),
    /// query_sm, §4.8.1.
    QuerySm(QuerySm<'a>),
    /// query_sm_resp, §4.8.2.
    QuerySmResp(QuerySmResp<'a>),
    /// cancel_sm, §4.9.1.
    CancelSm(CancelSm<'a>),
    /// cancel_sm_resp, §4.9.2.
    CancelSmResp(Tlvs<'a>),
    /// replace_sm, §4.10.1.
    ReplaceSm(ReplaceSm<'a>),
    /// replace_sm_resp, §4.10.2.
    ReplaceSmResp(Tlvs<'a>),
    /// enquire_link, §4.11.1.
    EnquireLink,
    /// enquire_link_resp, §4.11.2.
    EnquireLinkResp(Tlvs<'a>),
    /// alert_notification, §4.12.1.
    AlertNotification(AlertNotification<'a>),
}

/// bind_transmitter / bind_receiver / bind_transceiver body, SMPP 3.4 §4.1.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind<'a> {
    /// system_id, max 16 octets with NUL.
    pub system_id: Octets<'a>,
    /// password, max 9 octets with NUL.
    pub password: Octets<'a>,
    /// system_type, max 13 octets with NUL.
    pub system_type: Octets<'a>,
    /// interface_version (0x34 for SMPP 3.4).
    pub interface_version: u8,
    /// addr_ton.
    pub addr_ton: Ton,
    /// addr_npi.
    pub addr_npi: Npi,
    /// address_range, max 41 octets with NUL.
    pub address_range: Octets<'a>,
    /// Optional parameters (none in SMPP 3.4; kept if a peer sends them).
    pub tlvs: Tlvs<'a>,
}

/// bind_*_resp body, SMPP 3.4 §4.1.2. The body is absent when command_status is an error (§4.1.2 note).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp<'a> {
    /// system_id of the SMSC, max 16 octets with NUL; `None` when the body is absent.
    pub system_id: Option<Octets<'a>>,
    /// Optional parameters (sc_interface_version).
    pub tlvs: Tlvs<'a>,
}

/// outbind body, SMPP 3.4 §4.1.7.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind<'a> {
    /// system_id, max 16 octets with NUL.
    pub system_id: Octets<'a>,
    /// password, max 9 octets with NUL.
    pub password: Octets<'a>,
    /// Optional parameters (none in SMPP 3.4).
    pub tlvs: Tlvs<'a>,
}

/// submit_sm body (§4.4.1), also the deliver_sm body (§4.6.1), which has the same fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm<'a> {
    /// service_type, max 6 octets with NUL.
    pub service_type: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 21 octets with NUL.
    pub source_addr: Octets<'a>,
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr, max 21 octets with NUL.
    pub destination_addr: Octets<'a>,
    /// esm_class.
    pub esm_class: EsmClass,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time, empty or 16 characters (max 17 octets with NUL).
    pub schedule_delivery_time: Octets<'a>,
    /// validity_period, empty or 16 characters (max 17 octets with NUL).
    pub validity_period: Octets<'a>,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: DataCoding,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, 0-254 octets (sm_length is its length).
    pub short_message: Octets<'a>,
    /// Optional parameters.
    pub tlvs: Tlvs<'a>,
}

/// deliver_sm body, SMPP 3.4 §4.6.1: the submit_sm layout.
pub type DeliverSm<'a> = SubmitSm<'a>;

impl<'a> SubmitSm<'a> {
    /// True when esm_class bits 5-2 say "SMSC delivery receipt" (§5.2.12).
    pub fn is_delivery_receipt(&self) -> bool {
        self.esm_class.is_delivery_receipt()
    }

    /// receipted_message_id TLV without its NUL.
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.tlvs.receipted_message_id()
    }

    /// message_state TLV.
    pub fn message_state(&self) -> Option<MessageState> {
        self.tlvs.message_state()
    }

    /// network_error_code TLV.
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.tlvs.network_error_code()
    }

    /// The message text octets: short_message, or the message_payload TLV when short_message is empty.
    pub fn payload(&self) -> &[u8] {
        if self.short_message.is_empty() {
            self.tlvs.message_payload().unwrap_or(&[])
        } else {
            &self.short_message
        }
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> SubmitSm<'static> {
        SubmitSm {
            service_type: own(self.service_type),
            source_addr_ton: self.source_addr_ton,
            source_addr_npi: self.source_addr_npi,
            source_addr: own(self.source_addr),
            dest_addr_ton: self.dest_addr_ton,
            dest_addr_npi: self.dest_addr_npi,
            destination_addr: own(self.destination_addr),
            esm_class: self.esm_class,
            protocol_id: self.protocol_id,
            priority_flag: self.priority_flag,
            schedule_delivery_time: own(self.schedule_delivery_time),
            validity_period: own(self.validity_period),
            registered_delivery: self.registered_delivery,
            replace_if_present_flag: self.replace_if_present_flag,
            data_coding: self.data_coding,
            sm_default_msg_id: self.sm_default_msg_id,
            short_message: own(self.short_message),
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// submit_sm_resp (§4.4.2), deliver_sm_resp (§4.6.2) and data_sm_resp (§4.7.2) body.
///
/// message_id is `None` when the body is absent (SMSCs omit it when command_status is an error, §4.4.2);
/// an error response that does carry a message_id keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageIdResp<'a> {
    /// message_id, max 65 octets with NUL.
    pub message_id: Option<Octets<'a>>,
    /// Optional parameters (data_sm_resp's delivery_failure_reason, ...; kept on any response).
    pub tlvs: Tlvs<'a>,
}

/// One dest_address entry of submit_multi, SMPP 3.4 §4.5.1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAddress<'a> {
    /// dest_flag 1: an SME address.
    Sme {
        /// dest_addr_ton.
        dest_addr_ton: Ton,
        /// dest_addr_npi.
        dest_addr_npi: Npi,
        /// destination_addr, max 21 octets with NUL.
        destination_addr: Octets<'a>,
    },
    /// dest_flag 2: a distribution list name.
    DistributionList {
        /// dl_name, max 21 octets with NUL.
        dl_name: Octets<'a>,
    },
}

impl DestAddress<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> DestAddress<'static> {
        match self {
            DestAddress::Sme {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
            } => DestAddress::Sme {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr: own(destination_addr),
            },
            DestAddress::DistributionList { dl_name } => DestAddress::DistributionList {
                dl_name: own(dl_name),
            },
        }
    }

    /// dest_flag on the wire: 1 (SME address) or 2 (distribution list).
    pub fn dest_flag(&self) -> u8 {
        match self {
            DestAddress::Sme { .. } => 1,
            DestAddress::DistributionList { .. } => 2,
        }
    }
}

/// submit_multi body, SMPP 3.4 §4.5.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti<'a> {
    /// service_type, max 6 octets with NUL.
    pub service_type: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 21 octets with NUL.
    pub source_addr: Octets<'a>,
    /// dest_address entries, 1-254 (number_of_dests is their count), kept as their wire bytes.
    pub dest_address: DestAddresses<'a>,
    /// esm_class.
    pub esm_class: EsmClass,
    /// protocol_id.
    pub protocol_id: u8,
    /// priority_flag.
    pub priority_flag: u8,
    /// schedule_delivery_time, max 17 octets with NUL.
    pub schedule_delivery_time: Octets<'a>,
    /// validity_period, max 17 octets with NUL.
    pub validity_period: Octets<'a>,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// replace_if_present_flag.
    pub replace_if_present_flag: u8,
    /// data_coding.
    pub data_coding: DataCoding,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, 0-254 octets.
    pub short_message: Octets<'a>,
    /// Optional parameters.
    pub tlvs: Tlvs<'a>,
}

/// One unsuccess_sme entry of submit_multi_resp, SMPP 3.4 §4.5.2.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsuccessSme<'a> {
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr, max 21 octets with NUL.
    pub destination_addr: Octets<'a>,
    /// error_status_code: why this destination failed.
    pub error_status_code: CommandStatus,
}

impl UnsuccessSme<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> UnsuccessSme<'static> {
        UnsuccessSme {
            dest_addr_ton: self.dest_addr_ton,
            dest_addr_npi: self.dest_addr_npi,
            destination_addr: own(self.destination_addr),
            error_status_code: self.error_status_code,
        }
    }
}

/// submit_multi_resp body, SMPP 3.4 §4.5.2. Fields absent on the wire (error responses) are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp<'a> {
    /// message_id, max 65 octets with NUL.
    pub message_id: Option<Octets<'a>>,
    /// unsuccess_sme entries (no_unsuccess is their count), kept as their wire bytes.
    pub unsuccess_sme: Option<UnsuccessSmes<'a>>,
    /// Optional parameters.
    pub tlvs: Tlvs<'a>,
}

/// data_sm body, SMPP 3.4 §4.7.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm<'a> {
    /// service_type, max 6 octets with NUL.
    pub service_type: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 65 octets with NUL.
    pub source_addr: Octets<'a>,
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr, max 65 octets with NUL.
    pub destination_addr: Octets<'a>,
    /// esm_class.
    pub esm_class: EsmClass,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// data_coding.
    pub data_coding: DataCoding,
    /// Optional parameters (message_payload, ...).
    pub tlvs: Tlvs<'a>,
}

/// query_sm body, SMPP 3.4 §4.8.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm<'a> {
    /// message_id, max 65 octets with NUL.
    pub message_id: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 21 octets with NUL.
    pub source_addr: Octets<'a>,
    /// Optional parameters (none in SMPP 3.4).
    pub tlvs: Tlvs<'a>,
}

/// query_sm_resp body, SMPP 3.4 §4.8.2. The body may stop at any field (error responses): later fields are
/// `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySmResp<'a> {
    /// message_id, max 65 octets with NUL.
    pub message_id: Option<Octets<'a>>,
    /// final_date, max 17 octets with NUL.
    pub final_date: Option<Octets<'a>>,
    /// message_state.
    pub message_state: Option<MessageState>,
    /// error_code (network specific).
    pub error_code: Option<u8>,
    /// Optional parameters.
    pub tlvs: Tlvs<'a>,
}

/// cancel_sm body, SMPP 3.4 §4.9.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm<'a> {
    /// service_type, max 6 octets with NUL.
    pub service_type: Octets<'a>,
    /// message_id, max 65 octets with NUL.
    pub message_id: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 21 octets with NUL.
    pub source_addr: Octets<'a>,
    /// dest_addr_ton.
    pub dest_addr_ton: Ton,
    /// dest_addr_npi.
    pub dest_addr_npi: Npi,
    /// destination_addr, max 21 octets with NUL.
    pub destination_addr: Octets<'a>,
    /// Optional parameters (none in SMPP 3.4).
    pub tlvs: Tlvs<'a>,
}

/// replace_sm body, SMPP 3.4 §4.10.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm<'a> {
    /// message_id, max 65 octets with NUL.
    pub message_id: Octets<'a>,
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 21 octets with NUL.
    pub source_addr: Octets<'a>,
    /// schedule_delivery_time, max 17 octets with NUL.
    pub schedule_delivery_time: Octets<'a>,
    /// validity_period, max 17 octets with NUL.
    pub validity_period: Octets<'a>,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// sm_default_msg_id.
    pub sm_default_msg_id: u8,
    /// short_message, 0-254 octets.
    pub short_message: Octets<'a>,
    /// Optional parameters (none in SMPP 3.4).
    pub tlvs: Tlvs<'a>,
}

/// alert_notification body, SMPP 3.4 §4.12.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification<'a> {
    /// source_addr_ton.
    pub source_addr_ton: Ton,
    /// source_addr_npi.
    pub source_addr_npi: Npi,
    /// source_addr, max 65 octets with NUL.
    pub source_addr: Octets<'a>,
    /// esme_addr_ton.
    pub esme_addr_ton: Ton,
    /// esme_addr_npi.
    pub esme_addr_npi: Npi,
    /// esme_addr, max 65 octets with NUL.
    pub esme_addr: Octets<'a>,
    /// Optional parameters (ms_availability_status).
    pub tlvs: Tlvs<'a>,
}

impl<'a> Body<'a> {
    /// The command_id of this body.
    pub fn command_id(&self) -> CommandId {
        match self {
            Body::BindReceiver(_) => CommandId::BindReceiver,
            Body::BindReceiverResp(_) => CommandId::BindReceiverResp,
            Body::BindTransmitter(_) => CommandId::BindTransmitter,
            Body::BindTransmitterResp(_) => CommandId::BindTransmitterResp,
            Body::BindTransceiver(_) => CommandId::BindTransceiver,
            Body::BindTransceiverResp(_) => CommandId::BindTransceiverResp,
            Body::Outbind(_) => CommandId::Outbind,
            Body::Unbind => CommandId::Unbind,
            Body::UnbindResp(_) => CommandId::UnbindResp,
            Body::GenericNack(_) => CommandId::GenericNack,
            Body::SubmitSm(_) => CommandId::SubmitSm,
            Body::SubmitSmResp(_) => CommandId::SubmitSmResp,
            Body::SubmitMulti(_) => CommandId::SubmitMulti,
            Body::SubmitMultiResp(_) => CommandId::SubmitMultiResp,
            Body::DeliverSm(_) => CommandId::DeliverSm,
            Body::DeliverSmResp(_) => CommandId::DeliverSmResp,
            Body::DataSm(_) => CommandId::DataSm,
            Body::DataSmResp(_) => CommandId::DataSmResp,
            Body::QuerySm(_) => CommandId::QuerySm,
            Body::QuerySmResp(_) => CommandId::QuerySmResp,
            Body::CancelSm(_) => CommandId::CancelSm,
            Body::CancelSmResp(_) => CommandId::CancelSmResp,
            Body::ReplaceSm(_) => CommandId::ReplaceSm,
            Body::ReplaceSmResp(_) => CommandId::ReplaceSmResp,
            Body::EnquireLink => CommandId::EnquireLink,
            Body::EnquireLinkResp(_) => CommandId::EnquireLinkResp,
            Body::AlertNotification(_) => CommandId::AlertNotification,
        }
    }

    /// The optional parameters, for bodies that carry them.
    pub fn tlvs(&self) -> Option<&Tlvs<'a>> {
        Some(match self {
            Body::BindReceiver(b) | Body::BindTransmitter(b) | Body::BindTransceiver(b) => &b.tlvs,
            Body::BindReceiverResp(b)
            | Body::BindTransmitterResp(b)
            | Body::BindTransceiverResp(b) => &b.tlvs,
            Body::Outbind(b) => &b.tlvs,
            Body::UnbindResp(t)
            | Body::GenericNack(t)
            | Body::CancelSmResp(t)
            | Body::ReplaceSmResp(t)
            | Body::EnquireLinkResp(t) => t,
            Body::SubmitSm(b) | Body::DeliverSm(b) => &b.tlvs,
            Body::SubmitSmResp(b) | Body::DeliverSmResp(b) | Body::DataSmResp(b) => &b.tlvs,
            Body::SubmitMulti(b) => &b.tlvs,
            Body::SubmitMultiResp(b) => &b.tlvs,
            Body::DataSm(b) => &b.tlvs,
            Body::QuerySm(b) => &b.tlvs,
            Body::QuerySmResp(b) => &b.tlvs,
            Body::CancelSm(b) => &b.tlvs,
            Body::ReplaceSm(b) => &b.tlvs,
            Body::AlertNotification(b) => &b.tlvs,
            Body::Unbind | Body::EnquireLink => return None,
        })
    }

    /// The empty (error) response body for a command that has one.
    fn empty_response(id: CommandId) -> Option<Body<'static>> {
        let t = Tlvs::new;
        Some(match id {
            CommandId::BindReceiver => Body::BindReceiverResp(BindResp::default()),
            CommandId::BindTransmitter => Body::BindTransmitterResp(BindResp::default()),
            CommandId::BindTransceiver => Body::BindTransceiverResp(BindResp::default()),
            CommandId::Unbind => Body::UnbindResp(t()),
            CommandId::SubmitSm => Body::SubmitSmResp(MessageIdResp::default()),
            CommandId::SubmitMulti => Body::SubmitMultiResp(SubmitMultiResp::default()),
            CommandId::DeliverSm => Body::DeliverSmResp(MessageIdResp::default()),
            CommandId::DataSm => Body::DataSmResp(MessageIdResp::default()),
            CommandId::QuerySm => Body::QuerySmResp(QuerySmResp::default()),
            CommandId::CancelSm => Body::CancelSmResp(t()),
            CommandId::ReplaceSm => Body::ReplaceSmResp(t()),
            CommandId::EnquireLink => Body::EnquireLinkResp(t()),
            _ => return None,
        })
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Body<'static> {
        match self {
            Body::BindReceiver(b) => Body::BindReceiver(b.into_owned()),
            Body::BindReceiverResp(b) => Body::BindReceiverResp(b.into_owned()),
            Body::BindTransmitter(b) => Body::BindTransmitter(b.into_owned()),
            Body::BindTransmitterResp(b) => Body::BindTransmitterResp(b.into_owned()),
            Body::BindTransceiver(b) => Body::BindTransceiver(b.into_owned()),
            Body::BindTransceiverResp(b) => Body::BindTransceiverResp(b.into_owned()),
            Body::Outbind(b) => Body::Outbind(Outbind {
                system_id: own(b.system_id),
                password: own(b.password),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::Unbind => Body::Unbind,
            Body::UnbindResp(t) => Body::UnbindResp(t.into_owned()),
            Body::GenericNack(t) => Body::GenericNack(t.into_owned()),
            Body::SubmitSm(b) => Body::SubmitSm(b.into_owned()),
            Body::SubmitSmResp(b) => Body::SubmitSmResp(b.into_owned()),
            Body::SubmitMulti(b) => Body::SubmitMulti(SubmitMulti {
                service_type: own(b.service_type),
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                dest_address: b.dest_address.into_owned(),
                esm_class: b.esm_class,
                protocol_id: b.protocol_id,
                priority_flag: b.priority_flag,
                schedule_delivery_time: own(b.schedule_delivery_time),
                validity_period: own(b.validity_period),
                registered_delivery: b.registered_delivery,
                replace_if_present_flag: b.replace_if_present_flag,
                data_coding: b.data_coding,
                sm_default_msg_id: b.sm_default_msg_id,
                short_message: own(b.short_message),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::SubmitMultiResp(b) => Body::SubmitMultiResp(SubmitMultiResp {
                message_id: own_opt(b.message_id),
                unsuccess_sme: b.unsuccess_sme.map(UnsuccessSmes::into_owned),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::DeliverSm(b) => Body::DeliverSm(b.into_owned()),
            Body::DeliverSmResp(b) => Body::DeliverSmResp(b.into_owned()),
            Body::DataSm(b) => Body::DataSm(DataSm {
                service_type: own(b.service_type),
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                dest_addr_ton: b.dest_addr_ton,
                dest_addr_npi: b.dest_addr_npi,
                destination_addr: own(b.destination_addr),
                esm_class: b.esm_class,
                registered_delivery: b.registered_delivery,
                data_coding: b.data_coding,
                tlvs: b.tlvs.into_owned(),
            }),
            Body::DataSmResp(b) => Body::DataSmResp(b.into_owned()),
            Body::QuerySm(b) => Body::QuerySm(QuerySm {
                message_id: own(b.message_id),
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::QuerySmResp(b) => Body::QuerySmResp(QuerySmResp {
                message_id: own_opt(b.message_id),
                final_date: own_opt(b.final_date),
                message_state: b.message_state,
                error_code: b.error_code,
                tlvs: b.tlvs.into_owned(),
            }),
            Body::CancelSm(b) => Body::CancelSm(CancelSm {
                service_type: own(b.service_type),
                message_id: own(b.message_id),
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                dest_addr_ton: b.dest_addr_ton,
                dest_addr_npi: b.dest_addr_npi,
                destination_addr: own(b.destination_addr),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::CancelSmResp(t) => Body::CancelSmResp(t.into_owned()),
            Body::ReplaceSm(b) => Body::ReplaceSm(ReplaceSm {
                message_id: own(b.message_id),
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                schedule_delivery_time: own(b.schedule_delivery_time),
                validity_period: own(b.validity_period),
                registered_delivery: b.registered_delivery,
                sm_default_msg_id: b.sm_default_msg_id,
                short_message: own(b.short_message),
                tlvs: b.tlvs.into_owned(),
            }),
            Body::ReplaceSmResp(t) => Body::ReplaceSmResp(t.into_owned()),
            Body::EnquireLink => Body::EnquireLink,
            Body::EnquireLinkResp(t) => Body::EnquireLinkResp(t.into_owned()),
            Body::AlertNotification(b) => Body::AlertNotification(AlertNotification {
                source_addr_ton: b.source_addr_ton,
                source_addr_npi: b.source_addr_npi,
                source_addr: own(b.source_addr),
                esme_addr_ton: b.esme_addr_ton,
                esme_addr_npi: b.esme_addr_npi,
                esme_addr: own(b.esme_addr),
                tlvs: b.tlvs.into_owned(),
            }),
        }
    }
}

impl Bind<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> Bind<'static> {
        Bind {
            system_id: own(self.system_id),
            password: own(self.password),
            system_type: own(self.system_type),
            interface_version: self.interface_version,
            addr_ton: self.addr_ton,
            addr_npi: self.addr_npi,
            address_range: own(self.address_range),
            tlvs: self.tlvs.into_owned(),
        }
    }
}

impl BindResp<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> BindResp<'static> {
        BindResp {
            system_id: own_opt(self.system_id),
            tlvs: self.tlvs.into_owned(),
        }
    }
}

impl MessageIdResp<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> MessageIdResp<'static> {
        MessageIdResp {
            message_id: own_opt(self.message_id),
            tlvs: self.tlvs.into_owned(),
        }
    }
}

impl<'a> Pdu<'a> {
    /// A request (or response) with command_status ESME_ROK.
    pub fn new(sequence_number: u32, body: Body<'a>) -> Pdu<'a> {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// generic_nack with this status and sequence_number (SMPP 3.4 §4.3.1).
    pub fn generic_nack(sequence_number: u32, status: CommandStatus) -> Pdu<'static> {
        Pdu {
            command_status: status,
            sequence_number,
            body: Body::GenericNack(Tlvs::new()),
        }
    }

    /// The command_id.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// The sequence_number.
    pub fn sequence_number(&self) -> u32 {
        self.sequence_number
    }

    /// The command_status.
    pub fn command_status(&self) -> CommandStatus {
        self.command_status
    }

    /// True for responses and generic_nack.
    pub fn is_response(&self) -> bool {
        self.command_id().is_response()
    }

    /// The optional parameters, for bodies that carry them.
    pub fn tlvs(&self) -> Option<&Tlvs<'a>> {
        self.body.tlvs()
    }

    /// The response to this request with this status and the same sequence_number, its body fields absent
    /// (as SMPP 3.4 §4.1.2 / §4.4.2 want for error responses; fill in message_id / system_id for ESME_ROK).
    /// `None` for responses, outbind and alert_notification, which are never answered.
    pub fn response_for(&self, status: CommandStatus) -> Option<Pdu<'static>> {
        Pdu::response_to(self.command_id(), self.sequence_number, status)
    }

    /// The response to a request of command `id`, as [`Pdu::response_for`].
    pub fn response_to(
        id: CommandId,
        sequence_number: u32,
        status: CommandStatus,
    ) -> Option<Pdu<'static>> {
        Some(Pdu {
            command_status: status,
            sequence_number,
            body: Body::empty_response(id)?,
        })
    }

    /// The deliver_sm body, when this is one.
    pub fn as_deliver_sm(&self) -> Option<&DeliverSm<'a>> {
        match &self.body {
            Body::DeliverSm(d) => Some(d),
            _ => None,
        }
    }

    /// True for a deliver_sm whose esm_class says "SMSC delivery receipt" (§5.2.12, bits 5-2 = 0001).
    pub fn is_delivery_receipt(&self) -> bool {
        self.as_deliver_sm()
            .is_some_and(|d| d.is_delivery_receipt())
    }

    /// receipted_message_id TLV of a deliver_sm or data_sm, without its NUL.
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.receipt_tlvs()?.receipted_message_id()
    }

    /// message_state TLV of a deliver_sm or data_sm.
    pub fn message_state(&self) -> Option<MessageState> {
        self.receipt_tlvs()?.message_state()
    }

    /// network_error_code TLV of a deliver_sm or data_sm.
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        self.receipt_tlvs()?.network_error_code()
    }

    fn receipt_tlvs(&self) -> Option<&Tlvs<'a>> {
        match &self.body {
            Body::DeliverSm(d) => Some(&d.tlvs),
            Body::DataSm(d) => Some(&d.tlvs),
            _ => None,
        }
    }

    /// A copy that owns its data, to keep after the read buffer is reused.
    pub fn into_owned(self) -> Pdu<'static> {
        Pdu {
            command_status: self.command_status,
            sequence_number: self.sequence_number,
            body: self.body.into_owned(),
        }
    }
}
