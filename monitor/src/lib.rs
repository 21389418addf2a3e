//! Atesto's log monitor: checks that a transparency log (Rekor v1) or an RFC
//! 6962 CT log only ever grows. Each check fetches the latest signed tree
//! head, verifies its signature with a key the operator trusts, and proves it
//! consistent with the last tree head verified before, which is kept in a
//! state file so that a restart (or a crash) never forgets what was seen.
//!
//! Everything a check finds wrong is an [`Alert`]; anything that stopped the
//! check from reaching a verdict (network, malformed replies) is a
//! [`MonitorError`]. The distinction matters: an alert is evidence against
//! the log, an error is only a reason to try again.

pub mod alert;
pub mod checkpoint;
pub mod clock;
pub mod consistency;
pub mod ct;
pub mod error;
pub mod http;
pub mod keys;
pub mod log_kind;
pub mod metrics;
pub mod monitor;
pub mod rekor;
pub mod scan;
pub mod state;
pub mod tiles;
pub mod watch;
pub mod witness;

pub use alert::Alert;
pub use checkpoint::TreeHead;
pub use error::MonitorError;
pub use keys::TrustedKeys;
pub use log_kind::LogKind;
pub use monitor::{Monitor, Outcome};
pub use state::{State, StateError};
