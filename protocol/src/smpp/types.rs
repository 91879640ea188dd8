//! Command ids and the small typed fields of SMPP 3.4 PDUs (§5.1.2, §5.2).

use std::fmt;

macro_rules! command_ids {
    ($( $variant:ident = $value:literal, $name:literal; )*) => {
        /// An SMPP 3.4 command_id (§5.1.2). Responses have bit 31 set.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum CommandId {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant = $value,
            )*
        }

        impl CommandId {
            /// Every command_id of SMPP 3.4.
            pub const ALL: &'static [CommandId] = &[$(CommandId::$variant),*];

            /// The command for a wire value, `None` for ids SMPP 3.4 does not define.
            pub fn from_u32(v: u32) -> Option<CommandId> {
                match v {
                    $($value => Some(CommandId::$variant),)*
                    _ => None,
                }
            }

            /// The specification's name, e.g. `"submit_sm_resp"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(CommandId::$variant => $name,)*
                }
            }

            /// Looks a command up by its specification name.
            pub fn from_name(name: &str) -> Option<CommandId> {
                match name {
                    $($name => Some(CommandId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

command_ids! {
    GenericNack = 0x8000_0000, "generic_nack";
    BindReceiver = 0x0000_0001, "bind_receiver";
    BindReceiverResp = 0x8000_0001, "bind_receiver_resp";
    BindTransmitter = 0x0000_0002, "bind_transmitter";
    BindTransmitterResp = 0x8000_0002, "bind_transmitter_resp";
    QuerySm = 0x0000_0003, "query_sm";
    QuerySmResp = 0x8000_0003, "query_sm_resp";
    SubmitSm = 0x0000_0004, "submit_sm";
    SubmitSmResp = 0x8000_0004, "submit_sm_resp";
    DeliverSm = 0x0000_0005, "deliver_sm";
    DeliverSmResp = 0x8000_0005, "deliver_sm_resp";
    Unbind = 0x0000_0006, "unbind";
    UnbindResp = 0x8000_0006, "unbind_resp";
    ReplaceSm = 0x0000_0007, "replace_sm";
    ReplaceSmResp = 0x8000_0007, "replace_sm_resp";
    CancelSm = 0x0000_0008, "cancel_sm";
    CancelSmResp = 0x8000_0008, "cancel_sm_resp";
    BindTransceiver = 0x0000_0009, "bind_transceiver";
    BindTransceiverResp = 0x8000_0009, "bind_transceiver_resp";
    Outbind = 0x0000_000B, "outbind";
    EnquireLink = 0x0000_0015, "enquire_link";
    EnquireLinkResp = 0x8000_0015, "enquire_link_resp";
    SubmitMulti = 0x0000_0021, "submit_multi";
    SubmitMultiResp = 0x8000_0021, "submit_multi_resp";
    AlertNotification = 0x0000_0102, "alert_notification";
    DataSm = 0x0000_0103, "data_sm";
    DataSmResp = 0x8000_0103, "data_sm_resp";
}

impl CommandId {
    /// The wire value.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// True for responses (bit 31 set), generic_nack included.
    pub fn is_response(self) -> bool {
        self.as_u32() & 0x8000_0000 != 0
    }

    /// The response a request is answered with; `None` for responses and for the requests that have none
    /// (outbind, alert_notification).
    pub fn response(self) -> Option<CommandId> {
        match self {
            CommandId::Outbind | CommandId::AlertNotification => None,
            c if c.is_response() => None,
            c => CommandId::from_u32(c.as_u32() | 0x8000_0000),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! byte_type {
    ($(#[$m:meta])* $ty:ident { $( $(#[$cm:meta])* $c:ident = $v:literal, )* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $ty(pub u8);
        impl $ty {
            $( $(#[$cm])* pub const $c: $ty = $ty($v); )*
        }
        impl From<u8> for $ty { fn from(v: u8) -> Self { $ty(v) } }
        impl From<$ty> for u8 { fn from(v: $ty) -> u8 { v.0 } }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#04x})", stringify!($ty), self.0)
            }
        }
    };
}

byte_type! {
    /// Type of number of an address, SMPP 3.4 §5.2.5.
    Ton {
        UNKNOWN = 0, INTERNATIONAL = 1, NATIONAL = 2, NETWORK_SPECIFIC = 3, SUBSCRIBER_NUMBER = 4,
        ALPHANUMERIC = 5, ABBREVIATED = 6,
    }
}

byte_type! {
    /// Numbering plan indicator of an address, SMPP 3.4 §5.2.6.
    Npi {
        UNKNOWN = 0, ISDN = 1, DATA = 3, TELEX = 4, LAND_MOBILE = 6, NATIONAL = 8, PRIVATE = 9, ERMES = 10,
        INTERNET = 14, WAP_CLIENT_ID = 18,
    }
}

byte_type! {
    /// esm_class, SMPP 3.4 §5.2.12: messaging mode (bits 1-0), message type (bits 5-2), GSM features (7-6).
    EsmClass {
        DEFAULT = 0x00,
        /// Message type (bits 5-2) 0001: SMSC delivery receipt.
        DELIVERY_RECEIPT = 0x04,
        /// Message type 0010: SME delivery acknowledgement.
        DELIVERY_ACK = 0x08,
        /// Message type 0100: SME manual/user acknowledgement.
        USER_ACK = 0x10,
        /// Message type 0110: conversation abort (Korean CDMA).
        CONVERSATION_ABORT = 0x18,
        /// Message type 1000: intermediate delivery notification.
        INTERMEDIATE_NOTIFICATION = 0x20,
        /// GSM feature: UDHI indicator (bit 6).
        UDHI = 0x40,
        /// GSM feature: reply path (bit 7).
        REPLY_PATH = 0x80,
    }
}

impl EsmClass {
    /// Bits 5-2 (the message type), still in place (`0x04` = SMSC delivery receipt).
    pub fn message_type(self) -> u8 {
        self.0 & 0x3C
    }

    /// True when bits 5-2 say "SMSC delivery receipt" (deliver_sm only).
    pub fn is_delivery_receipt(self) -> bool {
        self.message_type() == 0x04
    }

    /// True when the short_message starts with a user data header (bit 6).
    pub fn udhi(self) -> bool {
        self.0 & 0x40 != 0
    }
}

byte_type! {
    /// data_coding, SMPP 3.4 §5.2.19.
    DataCoding {
        DEFAULT = 0x00, IA5 = 0x01, OCTET_UNSPECIFIED = 0x02, LATIN1 = 0x03, OCTET_UNSPECIFIED_2 = 0x04,
        JIS = 0x05, CYRILLIC = 0x06, HEBREW = 0x07, UCS2 = 0x08, PICTOGRAM = 0x09, ISO_2022_JP = 0x0A,
        EXTENDED_KANJI = 0x0D, KS_C_5601 = 0x0E,
    }
}

byte_type! {
    /// message_state, SMPP 3.4 §5.2.28 (query_sm_resp field and message_state TLV).
    MessageState {
        ENROUTE = 1, DELIVERED = 2, EXPIRED = 3, DELETED = 4, UNDELIVERABLE = 5, ACCEPTED = 6, UNKNOWN = 7,
        REJECTED = 8,
    }
}

impl MessageState {
    /// The specification's name (`"DELIVERED"`), `None` for values it does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "ENROUTE",
            2 => "DELIVERED",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIVERABLE",
            6 => "ACCEPTED",
            7 => "UNKNOWN",
            8 => "REJECTED",
            _ => return None,
        })
    }

    /// True for the states after which nothing will change (all but ENROUTE, ACCEPTED and UNKNOWN).
    pub fn is_final(self) -> bool {
        matches!(self.0, 2 | 3 | 4 | 5 | 8)
    }
}

/// The network_error_code TLV value, SMPP 3.4 §5.3.2.31: network type (1 = ANSI-136, 2 = IS-95, 3 = GSM,
/// 4 = reserved) and the network's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// Network type (1 = ANSI-136 access denied reason, 2 = IS-95 access denied reason, 3 = GSM, ...).
    pub network_type: u8,
    /// The error code, as defined by that network.
    pub error_code: u16,
}

impl NetworkErrorCode {
    /// The three value octets.
    pub fn to_bytes(self) -> [u8; 3] {
        let [hi, lo] = self.error_code.to_be_bytes();
        [self.network_type, hi, lo]
    }

    /// Parses the three value octets; `None` for any other length.
    pub fn from_bytes(v: &[u8]) -> Option<NetworkErrorCode> {
        match *v {
            [network_type, hi, lo] => Some(NetworkErrorCode {
                network_type,
                error_code: u16::from_be_bytes([hi, lo]),
            }),
            _ => None,
        }
    }
}
