//! One module per subcommand.

pub mod bench;
pub mod ct;
pub mod keygen;
pub mod tlog;
