//! `+CME ERROR` (3GPP TS 27.007 §9.2) and `+CMS ERROR` (3GPP TS 27.005 §3.2.5) codes: what they mean,
//! the verbose texts modems print instead of the number (`AT+CMEE=2`), and whether a retry can help.

/// Whether repeating the operation later can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing condition (SIM busy, no network, timeout, memory full until messages are deleted): retry
    /// after a pause, a bounded number of times.
    Transient,
    /// Repeating the same command cannot help (bad parameters, PIN needed, barred, wrong number): report.
    Permanent,
}

use Retry::{Permanent as P, Transient as T};

/// TS 27.007 §9.2.1 (general) and §9.2.2 (GPRS) `<err>` values.
const CME: &[(u16, &str, Retry)] = &[
    (0, "phone failure", T),
    (1, "no connection to phone", T),
    (2, "phone-adaptor link reserved", T),
    (3, "operation not allowed", P),
    (4, "operation not supported", P),
    (5, "PH-SIM PIN required", P),
    (6, "PH-FSIM PIN required", P),
    (7, "PH-FSIM PUK required", P),
    (10, "SIM not inserted", P),
    (11, "SIM PIN required", P),
    (12, "SIM PUK required", P),
    (13, "SIM failure", P),
    // The SIM is still initialising after power-up or a PIN entry.
    (14, "SIM busy", T),
    (15, "SIM wrong", P),
    // Never retried: each attempt uses up one of the SIM's PIN tries.
    (16, "incorrect password", P),
    (17, "SIM PIN2 required", P),
    (18, "SIM PUK2 required", P),
    // Frees up once stored messages are deleted.
    (20, "memory full", T),
    (21, "invalid index", P),
    (22, "not found", P),
    (23, "memory failure", T),
    (24, "text string too long", P),
    (25, "invalid characters in text string", P),
    (26, "dial string too long", P),
    (27, "invalid characters in dial string", P),
    (30, "no network service", T),
    (31, "network timeout", T),
    // Coverage of the home network may come back.
    (32, "network not allowed - emergency calls only", T),
    (40, "network personalization PIN required", P),
    (41, "network personalization PUK required", P),
    (42, "network subset personalization PIN required", P),
    (43, "network subset personalization PUK required", P),
    (44, "service provider personalization PIN required", P),
    (45, "service provider personalization PUK required", P),
    (46, "corporate personalization PIN required", P),
    (47, "corporate personalization PUK required", P),
    (48, "hidden key required", P),
    (49, "EAP method not supported", P),
    (50, "incorrect parameters", P),
    (51, "command implemented but currently disabled", P),
    (52, "command aborted by user", T),
    (
        53,
        "not attached to network due to MT functionality restrictions",
        P,
    ),
    (
        54,
        "modem not allowed - MT restricted to emergency calls only",
        P,
    ),
    (
        55,
        "operation not allowed because of MT functionality restrictions",
        P,
    ),
    (
        56,
        "fixed dial number only allowed - called number is not a fixed dial number",
        P,
    ),
    (57, "temporarily out of service due to other MT usage", T),
    (58, "language/alphabet not supported", P),
    (59, "unexpected data value", P),
    (60, "system failure", T),
    (61, "data missing", P),
    (62, "call barred", P),
    (63, "message waiting indication subscription failure", P),
    // Unknown is retried: a modem says it for glitches it cannot name.
    (100, "unknown", T),
    (103, "illegal MS", P),
    (106, "illegal ME", P),
    (107, "GPRS services not allowed", P),
    (111, "PLMN not allowed", P),
    (112, "location area not allowed", P),
    (113, "roaming not allowed in this location area", P),
    (132, "service option not supported", P),
    (133, "requested service option not subscribed", P),
    (134, "service option temporarily out of order", T),
    (148, "unspecified GPRS error", T),
    (149, "PDP authentication failure", P),
    (150, "invalid mobile class", P),
];

/// TS 27.005 §3.2.5 `<err>` values: 0-127 are RP-cause values (TS 24.011 Annex E-2), 128-255 TP-FCS values
/// (TS 23.040 §9.2.3.22), 300 and up the ME/TA's own.
const CMS: &[(u16, &str, Retry)] = &[
    (1, "unassigned (unallocated) number", P),
    (8, "operator determined barring", P),
    (10, "call barred", P),
    (21, "short message transfer rejected", P),
    // The recipient's network or handset is unreachable now; SMSC-side retry usually covers it, one
    // more attempt from us is cheap.
    (27, "destination out of service", T),
    (28, "unidentified subscriber", P),
    (29, "facility rejected", P),
    (30, "unknown subscriber", P),
    (38, "network out of order", T),
    (41, "temporary failure", T),
    (42, "congestion", T),
    (47, "resources unavailable, unspecified", T),
    (50, "requested facility not subscribed", P),
    (69, "requested facility not implemented", P),
    (81, "invalid short message transfer reference value", P),
    (95, "invalid message, unspecified", P),
    (96, "invalid mandatory information", P),
    (97, "message type non-existent or not implemented", P),
    (
        98,
        "message not compatible with short message protocol state",
        P,
    ),
    (99, "information element non-existent or not implemented", P),
    (111, "protocol error, unspecified", P),
    (127, "interworking, unspecified", T),
    (128, "telematic interworking not supported", P),
    (129, "short message type 0 not supported", P),
    (130, "cannot replace short message", P),
    (143, "unspecified TP-PID error", P),
    (144, "data coding scheme (alphabet) not supported", P),
    (145, "message class not supported", P),
    (159, "unspecified TP-DCS error", P),
    (160, "command cannot be actioned", P),
    (161, "command unsupported", P),
    (175, "unspecified TP-Command error", P),
    (176, "TPDU not supported", P),
    (192, "SC busy", T),
    (193, "no SC subscription", P),
    (194, "SC system failure", T),
    (195, "invalid SME address", P),
    (196, "destination SME barred", P),
    // The SMSC already holds this message: sending again would deliver it twice.
    (197, "SM rejected-duplicate SM", P),
    (198, "TP-VPF not supported", P),
    (199, "TP-VP not supported", P),
    (208, "(U)SIM SMS storage full", T),
    (209, "no SMS storage capability in (U)SIM", P),
    (210, "error in MS", T),
    (211, "memory capacity exceeded", T),
    (212, "(U)SIM Application Toolkit busy", T),
    (213, "(U)SIM data download error", T),
    (255, "unspecified error cause", T),
    // A modem hiccup; the driver may reset the modem if it repeats.
    (300, "ME failure", T),
    (301, "SMS service of ME reserved", T),
    (302, "operation not allowed", P),
    (303, "operation not supported", P),
    (304, "invalid PDU mode parameter", P),
    (305, "invalid text mode parameter", P),
    (310, "(U)SIM not inserted", P),
    (311, "(U)SIM PIN required", P),
    (312, "PH-(U)SIM PIN required", P),
    (313, "(U)SIM failure", P),
    (314, "(U)SIM busy", T),
    (315, "(U)SIM wrong", P),
    (316, "(U)SIM PUK required", P),
    (317, "(U)SIM PIN2 required", P),
    (318, "(U)SIM PUK2 required", P),
    (320, "memory failure", T),
    (321, "invalid memory index", P),
    // Frees up once stored messages are deleted.
    (322, "memory full", T),
    // The service centre address is not configured (+CSCA): configuration, not luck.
    (330, "SMSC address unknown", P),
    (331, "no network service", T),
    (332, "network timeout", T),
    (340, "no +CNMA acknowledgement expected", P),
    (500, "unknown error", T),
];

fn find(table: &[(u16, &'static str, Retry)], code: u16) -> Option<(&'static str, Retry)> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, text, retry)| (*text, *retry))
}

/// Letters and digits only, lower case, `(u)` dropped: `SIM PIN required` matches `(U)SIM PIN required`,
/// `SIM-busy` matches `SIM busy`.
fn normalise(text: &str) -> String {
    text.to_ascii_lowercase()
        .replace("(u)", "")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn code_of(table: &[(u16, &'static str, Retry)], text: &str) -> Option<u16> {
    let key = normalise(text);
    if key.is_empty() {
        return None;
    }
    table
        .iter()
        .find(|(_, t, _)| normalise(t) == key)
        .map(|(c, _, _)| *c)
}

/// The meaning of a `+CME ERROR` code (TS 27.007 §9.2).
pub fn cme_meaning(code: u16) -> Option<&'static str> {
    find(CME, code).map(|(t, _)| t)
}

/// The `+CME ERROR` code a verbose text stands for (matched without regard to case, spaces or
/// punctuation).
pub fn cme_code(text: &str) -> Option<u16> {
    code_of(CME, text)
}

/// Whether a retry can help after this `+CME ERROR`. Codes the table does not know count as transient, so
/// that the driver's bounded retry, not a guess here, decides when to give up.
pub fn cme_retry(code: u16) -> Retry {
    find(CME, code).map_or(Retry::Transient, |(_, r)| r)
}

/// The meaning of a `+CMS ERROR` code (TS 27.005 §3.2.5); 512 and up are manufacturer specific.
pub fn cms_meaning(code: u16) -> Option<&'static str> {
    match find(CMS, code) {
        Some((t, _)) => Some(t),
        None if code >= 512 => Some("manufacturer specific"),
        None if (224..=254).contains(&code) => Some("application specific (TP-FCS)"),
        None => None,
    }
}

/// The `+CMS ERROR` code a verbose text stands for.
pub fn cms_code(text: &str) -> Option<u16> {
    code_of(CMS, text)
}

/// Whether a retry can help after this `+CMS ERROR`. Unknown and manufacturer-specific (512+) codes count
/// as transient, bounded by the driver's retry limit.
pub fn cms_retry(code: u16) -> Retry {
    find(CMS, code).map_or(Retry::Transient, |(_, r)| r)
}

/// A `+CME ERROR: <err>` or `+CMS ERROR: <err>` final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    /// The numeric code: as sent (`AT+CMEE=1`) or looked up from the verbose text (`AT+CMEE=2`).
    pub code: Option<u16>,
    /// The verbose text, when the modem sent one.
    pub text: Option<String>,
}

/// Which table an [`ErrorCode`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// `+CME ERROR` (TS 27.007 §9.2): equipment, SIM and network.
    Cme,
    /// `+CMS ERROR` (TS 27.005 §3.2.5): SMS.
    Cms,
}

impl ErrorCode {
    /// Parses the text after `+CME ERROR:` / `+CMS ERROR:`.
    pub fn parse(family: ErrorFamily, value: &str) -> ErrorCode {
        let value = value.trim().trim_matches('"').trim();
        if !value.is_empty() && value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit()) {
            return ErrorCode {
                code: value.parse().ok(),
                text: None,
            };
        }
        let code = match family {
            ErrorFamily::Cme => cme_code(value),
            ErrorFamily::Cms => cms_code(value),
        };
        ErrorCode {
            code,
            text: (!value.is_empty()).then(|| value.to_owned()),
        }
    }

    /// The meaning from the spec's table, else the modem's own text.
    pub fn meaning(&self, family: ErrorFamily) -> Option<&str> {
        let from_table = self.code.and_then(|c| match family {
            ErrorFamily::Cme => cme_meaning(c),
            ErrorFamily::Cms => cms_meaning(c),
        });
        from_table.or(self.text.as_deref())
    }

    /// Whether a retry can help (see [`cme_retry`], [`cms_retry`]); a verbose text we cannot map is
    /// transient.
    pub fn retry(&self, family: ErrorFamily) -> Retry {
        match (self.code, family) {
            (Some(c), ErrorFamily::Cme) => cme_retry(c),
            (Some(c), ErrorFamily::Cms) => cms_retry(c),
            (None, _) => Retry::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for table in [CME, CMS] {
            for (i, (code, text, _)) in table.iter().enumerate() {
                assert_eq!(
                    table.iter().filter(|(c, _, _)| c == code).count(),
                    1,
                    "{code} twice"
                );
                // Every verbose text maps back to its own code (first match wins, so texts must differ).
                assert_eq!(code_of(table, text), Some(*code), "{text} at {i}");
            }
        }
    }

    #[test]
    fn verbose_texts() {
        assert_eq!(cme_code("SIM busy"), Some(14));
        assert_eq!(cme_code("sim  PIN required"), Some(11));
        assert_eq!(cms_code("SIM busy"), Some(314));
        assert_eq!(cms_code("Network timeout"), Some(332));
        assert_eq!(cme_code("no such thing"), None);
    }

    #[test]
    fn retry_classes() {
        assert_eq!(cme_retry(14), Retry::Transient);
        assert_eq!(cme_retry(16), Retry::Permanent);
        assert_eq!(cms_retry(332), Retry::Transient);
        assert_eq!(cms_retry(330), Retry::Permanent);
        assert_eq!(cms_retry(197), Retry::Permanent);
        assert_eq!(cms_retry(600), Retry::Transient);
        assert_eq!(cms_meaning(600), Some("manufacturer specific"));
    }
}
