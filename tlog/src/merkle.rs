//! Merkle tiles (placeholder until written).
