//! One module per subcommand.

pub mod keygen;
pub mod tlog;
