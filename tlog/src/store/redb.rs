//! redb backend (placeholder until written).
