//! What Atesto's tests build again and again, written once and without the
//! code under test: test CAs and leaf certificates (`pki`), DER surgery on
//! certificates (`der`), the RFC 6962 signature inputs and SCT parsing
//! rebuilt from the RFC (`ct`), and a fresh SoftHSM2 token for the PKCS#11
//! signers (`softhsm`). Tests panic on bad input, so these do too.

pub mod ct;
pub mod der;
pub mod pki;
pub mod softhsm;
