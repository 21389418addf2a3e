//! `atesto keygen`: a new private key for a log, a witness or a CA.

use std::path::PathBuf;

use anyhow::Context;
use atesto_common::keys::{KeyType, PrivateKey};

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key; an existing file is never overwritten.
    #[arg(long)]
    out: PathBuf,
    /// ecdsa-p256 (logs, checkpoints, SETs) or ed25519 (witness signatures).
    #[arg(long = "type", default_value = "ecdsa-p256")]
    key_type: KeyType,
}

pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let key = PrivateKey::generate(args.key_type)?;
    key.write_new(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    print!("{}", key.public_key_pem());
    Ok(())
}
