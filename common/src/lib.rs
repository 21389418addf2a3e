//! Pieces every Atesto service shares: private keys on disk, signed notes
//! (checkpoints) and the `{"code","message"}` error shape that sigstore
//! clients print.

pub mod config;
pub mod cpu_pool;
pub mod ct;
pub mod error;
pub mod http;
pub mod keys;
pub mod note;
pub mod pem;
pub mod pubkey;
pub mod serve;
pub mod trust_root;
