//! One module per subcommand.

pub mod ct;
pub mod keygen;
pub mod tlog;
