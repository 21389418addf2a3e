//! One module per subcommand.

pub mod bench;
pub mod ca;
pub mod ct;
pub mod keygen;
pub mod tlog;
