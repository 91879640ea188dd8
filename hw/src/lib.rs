//! smsbridge-hw: the GSM modem driver.
//!
//! An AT session engine over any async byte stream (tokio-serial in production, a pseudo-terminal in
//! tests), the modem life cycle, send/receive/status reports, a modem pool, and the modem simulator.
//! It knows modems, not the gateway: the gateway composes it with the rest.
