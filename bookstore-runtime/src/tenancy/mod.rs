//! Tenants on the stage's search host (feature `docker`): their containers through the
//! host's Docker API (`containers.rs`), and onboarding, repair and removal (`admin.rs`).
//! Why the CLI can drive a host in a private subnet: `docs/tenants.md`.

pub mod admin;
pub mod containers;
pub mod docker_tls;

pub use admin::{AdminCommand, AdminError, Step, TenantAdmin, TenantSearchReport};
pub use containers::{ContainerSettings, HostError, Networking, NodeImage, SearchHost};
