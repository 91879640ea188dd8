//! Carrier links: the connections that carry messages to and from carriers. `smpp` holds the SMPP 3.4 ESME
//! link engine (one task per bind, windowed submits, receipts and MO messages in).

pub mod smpp;
