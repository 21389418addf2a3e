//! Atesto's certificate authority: verifies an OIDC workload token and the
//! client's proof of possession, then issues a 10-minute code-signing
//! certificate carrying one SCT from an RFC 6962 CT log.

pub mod api;
pub mod client_key;
pub mod config;
pub mod ct_client;
pub mod identity;
pub mod issuance;
pub mod metrics;
pub mod principal;
pub mod service;
