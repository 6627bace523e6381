//! Protobuf messages, derived by hand with prost (no `protoc`, no build script). The `.proto`
//! definitions they mirror are quoted in each module. These structs stay inside herald-wire and
//! the HTTP edge; everything else sees validated model types.

pub mod efgs;
pub mod gaen;
pub mod revision;
