//! command_status values (SMPP 3.4 §5.1.3) and what a link should do about each one.

use std::fmt;

/// What a non-zero command_status means for the message and the link that carried it.
///
/// The classes drive the dispatcher: `Transient` puts the message back in its queue with backoff (bounded by
/// its validity period), `Permanent` fails the message now, `Link` says the bind or the PDU stream itself is
/// wrong (bad credentials, bind state, framing): the message is not at fault, the link must be re-established
/// or fixed, and the message goes back to the queue untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// ESME_ROK.
    Ok,
    /// Try again later; the SMSC may accept the same PDU then.
    Transient,
    /// The same PDU will never be accepted; fail the message.
    Permanent,
    /// A bind, sequence or command-state problem of the link, not of the message.
    Link,
}

/// An SMPP 3.4 command_status (§5.1.3). Any 32-bit value is representable: unknown and vendor-specific codes
/// keep their number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($( $name:ident = $value:literal, $class:ident, $desc:literal; )*) => {
        impl CommandStatus {
            $(
                #[doc = concat!("SMPP 3.4 §5.1.3: ", $desc, ".")]
                pub const $name: CommandStatus = CommandStatus($value);
            )*

            /// Every status SMPP 3.4 §5.1.3 names, in numeric order.
            pub const ALL: &'static [CommandStatus] = &[$(CommandStatus::$name),*];

            /// The specification's name (`"ESME_RINVMSGLEN"`), or the range an unnamed code belongs to:
            /// `"reserved"`, `"reserved_smpp_extension"` (0x100-0x3FF), `"vendor_specific"` (0x400-0x4FF).
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($value => stringify!($name),)*
                    0x100..=0x3FF => "reserved_smpp_extension",
                    0x400..=0x4FF => "vendor_specific",
                    _ => "reserved",
                }
            }

            /// A sentence for a person reading a log.
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($value => $desc,)*
                    0x100..=0x3FF => "Reserved for SMPP extension",
                    0x400..=0x4FF => "SMSC vendor specific error",
                    _ => "Reserved error code",
                }
            }

            /// Looks a status up by its specification name (`"ESME_RTHROTTLED"`).
            pub fn from_name(name: &str) -> Option<CommandStatus> {
                match name {
                    $(stringify!($name) => Some(CommandStatus::$name),)*
                    _ => None,
                }
            }

            /// What the status means for the message and the link; see [`StatusClass`].
            pub fn class(self) -> StatusClass {
                match self.0 {
                    $($value => StatusClass::$class,)*
                    // Reserved and vendor codes: we cannot know what they mean, so fail the message instead of
                    // retrying it blindly until it expires; a carrier's configuration may reclassify them.
                    _ => StatusClass::Permanent,
                }
            }
        }
    };
}

// Classification reasoning, per code:
// - Anything about the message's own content (addresses, lengths, flags, TON/NPI, times, TLV contents) is
//   Permanent: resubmitting the same bytes gets the same answer.
// - Capacity and SMSC-side failures (throttling, queue full, system error, generic submit failure, temporary
//   application error, query failure, delivery failure) are Transient.
// - Credentials, bind state and PDU stream problems (command length / id, bind status, already bound, bind
//   failed, password, system_id, system_type) are Link: our bind or codec is wrong, not the message.
// - ESME_RUNKNOWNERR says nothing we can act on; like unnamed codes it is Permanent, so an unknown failure
//   does not loop until the validity period runs out.
statuses! {
    ESME_ROK = 0x0000_0000, Ok, "No error";
    ESME_RINVMSGLEN = 0x0000_0001, Permanent, "Message length is invalid";
    ESME_RINVCMDLEN = 0x0000_0002, Link, "Command length is invalid";
    ESME_RINVCMDID = 0x0000_0003, Link, "Invalid command ID";
    ESME_RINVBNDSTS = 0x0000_0004, Link, "Incorrect bind status for given command";
    ESME_RALYBND = 0x0000_0005, Link, "ESME already in bound state";
    ESME_RINVPRTFLG = 0x0000_0006, Permanent, "Invalid priority flag";
    ESME_RINVREGDLVFLG = 0x0000_0007, Permanent, "Invalid registered delivery flag";
    ESME_RSYSERR = 0x0000_0008, Transient, "System error";
    ESME_RINVSRCADR = 0x0000_000A, Permanent, "Invalid source address";
    ESME_RINVDSTADR = 0x0000_000B, Permanent, "Invalid destination address";
    ESME_RINVMSGID = 0x0000_000C, Permanent, "Message ID is invalid";
    ESME_RBINDFAIL = 0x0000_000D, Link, "Bind failed";
    ESME_RINVPASWD = 0x0000_000E, Link, "Invalid password";
    ESME_RINVSYSID = 0x0000_000F, Link, "Invalid system ID";
    ESME_RCANCELFAIL = 0x0000_0011, Permanent, "Cancel SM failed";
    ESME_RREPLACEFAIL = 0x0000_0013, Permanent, "Replace SM failed";
    ESME_RMSGQFUL = 0x0000_0014, Transient, "Message queue full";
    ESME_RINVSERTYP = 0x0000_0015, Permanent, "Invalid service type";
    ESME_RINVNUMDESTS = 0x0000_0033, Permanent, "Invalid number of destinations";
    ESME_RINVDLNAME = 0x0000_0034, Permanent, "Invalid distribution list name";
    ESME_RINVDESTFLAG = 0x0000_0040, Permanent, "Destination flag is invalid (submit_multi)";
    ESME_RINVSUBREP = 0x0000_0042, Permanent, "Invalid 'submit with replace' request";
    ESME_RINVESMCLASS = 0x0000_0043, Permanent, "Invalid esm_class field data";
    ESME_RCNTSUBDL = 0x0000_0044, Permanent, "Cannot submit to distribution list";
    ESME_RSUBMITFAIL = 0x0000_0045, Transient, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x0000_0048, Permanent, "Invalid source address TON";
    ESME_RINVSRCNPI = 0x0000_0049, Permanent, "Invalid source address NPI";
    ESME_RINVDSTTON = 0x0000_0050, Permanent, "Invalid destination address TON";
    ESME_RINVDSTNPI = 0x0000_0051, Permanent, "Invalid destination address NPI";
    ESME_RINVSYSTYP = 0x0000_0053, Link, "Invalid system_type field";
    ESME_RINVREPFLAG = 0x0000_0054, Permanent, "Invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x0000_0055, Permanent, "Invalid number of messages";
    ESME_RTHROTTLED = 0x0000_0058, Transient, "Throttling error (ESME has exceeded allowed message limits)";
    ESME_RINVSCHED = 0x0000_0061, Permanent, "Invalid scheduled delivery time";
    ESME_RINVEXPIRY = 0x0000_0062, Permanent, "Invalid message validity period (expiry time)";
    ESME_RINVDFTMSGID = 0x0000_0063, Permanent, "Predefined message invalid or not found";
    ESME_RX_T_APPN = 0x0000_0064, Transient, "ESME receiver temporary application error";
    ESME_RX_P_APPN = 0x0000_0065, Permanent, "ESME receiver permanent application error";
    ESME_RX_R_APPN = 0x0000_0066, Permanent, "ESME receiver reject message error";
    ESME_RQUERYFAIL = 0x0000_0067, Transient, "query_sm request failed";
    ESME_RINVOPTPARSTREAM = 0x0000_00C0, Permanent, "Error in the optional part of the PDU body";
    ESME_ROPTPARNOTALLWD = 0x0000_00C1, Permanent, "Optional parameter not allowed";
    ESME_RINVPARLEN = 0x0000_00C2, Permanent, "Invalid parameter length";
    ESME_RMISSINGOPTPARAM = 0x0000_00C3, Permanent, "Expected optional parameter missing";
    ESME_RINVOPTPARAMVAL = 0x0000_00C4, Permanent, "Invalid optional parameter value";
    // data_sm_resp only; the delivery_failure_reason TLV tells a temporary network problem from a bad
    // address, and without it we assume the network may recover.
    ESME_RDELIVERYFAILURE = 0x0000_00FE, Transient, "Delivery failure (data_sm_resp)";
    ESME_RUNKNOWNERR = 0x0000_00FF, Permanent, "Unknown error";
}

impl CommandStatus {
    /// True for ESME_ROK.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<u32> for CommandStatus {
    fn from(v: u32) -> Self {
        CommandStatus(v)
    }
}

impl From<CommandStatus> for u32 {
    fn from(v: CommandStatus) -> Self {
        v.0
    }
}

impl fmt::Debug for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:#x})", self.name(), self.0)
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:#010x}: {})",
            self.name(),
            self.0,
            self.description()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_classes() {
        assert_eq!(CommandStatus(0x58).name(), "ESME_RTHROTTLED");
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.class(),
            StatusClass::Transient
        );
        assert_eq!(CommandStatus::ESME_RMSGQFUL.class(), StatusClass::Transient);
        assert_eq!(
            CommandStatus::ESME_RINVDSTADR.class(),
            StatusClass::Permanent
        );
        assert_eq!(CommandStatus::ESME_RINVBNDSTS.class(), StatusClass::Link);
        assert_eq!(CommandStatus::ESME_RINVPASWD.class(), StatusClass::Link);
        assert_eq!(CommandStatus::ESME_ROK.class(), StatusClass::Ok);
        assert_eq!(CommandStatus(0x0000_00C0).name(), "ESME_RINVOPTPARSTREAM");
        assert_eq!(CommandStatus(0x0000_0401).name(), "vendor_specific");
        assert_eq!(CommandStatus(0x0000_0009).name(), "reserved");
        assert_eq!(CommandStatus(0x0000_0101).name(), "reserved_smpp_extension");
        assert_eq!(CommandStatus(0x0000_0401).0, 0x401);
        assert_eq!(
            CommandStatus::from_name("ESME_RX_T_APPN"),
            Some(CommandStatus(0x64))
        );
        for s in CommandStatus::ALL {
            assert_eq!(CommandStatus::from_name(s.name()), Some(*s));
            assert!(!s.description().is_empty());
        }
        assert_eq!(CommandStatus::ALL.len(), 48);
    }
}
