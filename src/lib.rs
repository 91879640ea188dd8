//! smsbridge: the SMS gateway service.
//!
//! Composes the sans-IO codecs of `smsbridge-protocol` and the modem driver of `smsbridge-hw` into the
//! gateway: config, store, router, rate limiting, links, gRPC API, metrics, and the CLI.

pub mod api;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod gateway;
pub mod link;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod router;
pub mod sim;
pub mod store;
