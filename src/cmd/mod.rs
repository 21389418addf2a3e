//! One module per subcommand.

pub mod bench;
pub mod keygen;
pub mod tlog;
