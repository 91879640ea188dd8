//! The gateway's gRPC API edge: the `smsbridge.v1.Gateway` service, its validation and authentication, plus
//! the standard health and reflection services.

/// The code generated from `src/api/proto/smsbridge/v1/gateway.proto` (messages, client and server).
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("smsbridge.v1");

    /// The encoded `FileDescriptorSet` of the API (with its imports), served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/smsbridge_v1_descriptor.bin"));
}

pub mod auth;
pub mod coalesce;
pub mod plan;
pub mod server;
pub mod validate;

pub use auth::{Authenticator, ClientToken};
pub use plan::Planner;
pub use server::{
    ApiServer, CarrierCancel, CarrierCancelRequest, GatewayService, LinkState, LinkStates,
    RouteChoice, RouteError, Routing, ServeError,
};
