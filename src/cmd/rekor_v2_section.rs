//! The `rekor_v2:` section of `atesto tlog`'s config, read by the server
//! (`tlog.rs`) and by `atesto tlog migrate` (`migrate.rs`).

use anyhow::bail;
use atesto_rekor_v1::config::{ConfigError, TlogConfig};
use atesto_rekor_v2::config::RekorV2Config;

/// The `rekor_v2:` section, its store under the v1 log's data directory
/// unless it names its own.
pub fn rekor_v2_config(config: &TlogConfig) -> anyhow::Result<Option<RekorV2Config>> {
    let Some(section) = &config.rekor_v2 else {
        return Ok(None);
    };
    let mut v2: RekorV2Config = serde_yaml_ng::from_value(section.clone())
        .map_err(|e| ConfigError::Invalid(format!("rekor_v2: {e}")))?;
    v2.data.get_or_insert_with(|| config.data.join("rekor-v2"));
    v2.validate()?;
    if v2.addr == config.addr {
        bail!(
            "rekor_v2.addr must differ from addr: each log serves its tiles at the root of its own listener"
        );
    }
    Ok(Some(v2))
}
