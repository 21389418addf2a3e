//! Hostile requests against real servers: `atesto dev` (CA, Rekor v1 and v2 logs),
//! `atesto ct` and `atesto tsa`. Malformed JSON, base64, PEM, DER, tokens, proof ranges,
//! ids, huge numbers, wrong content types, deep nesting, while slow
//! clients hold connections open. No answer may be a 5xx or take long, every
//! refusal of the application is in the `{"code","message"}` shape, and the
//! server still answers afterwards (it did not panic).
//!
//! Add a case: one line in the table of the service it targets
//! (`log_cases.rs`, `ct_cases.rs`, `ca_cases.rs`, `tsa_cases.rs`, `rekor_v2_cases.rs`);
//! `cases.rs` sends and judges them.

#[path = "../support/mod.rs"]
mod support;

mod ca_cases;
mod cases;
mod ct_cases;
mod log_cases;
mod rekor_v2_cases;
mod tsa_cases;

use ca_cases::ca_cases;
use cases::{assert_all_handled, run_cases};
use ct_cases::ct_cases;
use log_cases::log_cases;
use rekor_v2_cases::rekor_v2_cases;
use support::ca::CaStack;
use support::dev::Dev;
use support::tsa::Tsa;
use tsa_cases::tsa_cases;

#[test]
fn dev_ca_and_log_refuse_hostile_inputs_cleanly() {
    let dev = Dev::start();
    assert_all_handled("atesto dev CA", run_cases(&dev.ca, ca_cases()));
    assert_all_handled("atesto dev log", run_cases(&dev.tlog, log_cases()));
    // The dev log also serves the CT API on its address.
    assert_all_handled("atesto dev CT", run_cases(&dev.tlog, ct_cases()));
    assert_all_handled(
        "atesto dev Rekor v2",
        run_cases(&dev.rekor_v2, rekor_v2_cases()),
    );
}

#[test]
fn ct_log_refuses_hostile_inputs_cleanly() {
    let stack = CaStack::start();
    assert_all_handled("atesto ct", run_cases(&stack.ct.addr, ct_cases()));
}

#[test]
fn tsa_refuses_hostile_inputs_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = Tsa::start(dir.path(), "");
    assert_all_handled("atesto tsa", run_cases(&tsa.server.addr, tsa_cases()));
}
