//! Caps on the verification work one DSSE or in-toto request can ask for.

/// Caps on the verification work one request can ask for (each verifier may
/// be tried against each signature).
pub const MAX_SIGNATURES: usize = 32;
pub const MAX_VERIFIERS: usize = 32;
/// Signatures × verifiers: the checks one entry may cost at worst. Either
/// cap alone still allows 32 signatures with one key or one with 32 keys.
pub const MAX_SIGNATURE_CHECKS: usize = 32;
