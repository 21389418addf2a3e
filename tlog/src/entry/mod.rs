//! Entry types (placeholder until written).
