//! Comparing a new tree head with the last verified one.
//!
//! The RFC 6962 consistency proof check is tlog_tiles's `check_tree` (Go's
//! `tlog.CheckTree` ported): its proof order, deepest node first and the
//! sibling of the old tree's top last, is RFC 6962's `PROOF(m, D[n])`, the
//! order Rekor and CT logs serve. Only the decisions around it live here.

use tlog_tiles::Hash;

use crate::alert::Alert;
use crate::checkpoint::TreeHead;

/// What must happen to accept `new` after `verified`.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing to prove: the same tree, or growth from the empty tree.
    Accept,
    /// A consistency proof from `verified.size` to `new.size` is needed.
    NeedProof,
}

/// Decides from the sizes and roots alone: rollback and same-size forks need
/// no proof to be evidence.
pub fn compare(verified: &TreeHead, new: &TreeHead) -> Result<Next, Alert> {
    if new.size < verified.size {
        return Err(Alert::Rollback {
            verified_size: verified.size,
            size: new.size,
        });
    }
    if new.size == verified.size {
        if new.root != verified.root {
            return Err(fork(verified, new, "same size, different root"));
        }
        return Ok(Next::Accept);
    }
    // The empty tree is a prefix of every tree.
    if verified.size == 0 {
        return Ok(Next::Accept);
    }
    Ok(Next::NeedProof)
}

/// Verifies that `proof` shows `new` extends `verified` (sizes already
/// compared by [`compare`]).
pub fn check_proof(verified: &TreeHead, new: &TreeHead, proof: &[[u8; 32]]) -> Result<(), Alert> {
    let (Some(old_root), Some(new_root)) = (verified.root_bytes(), new.root_bytes()) else {
        return Err(fork(verified, new, "a root hash is not 32 bytes of hex"));
    };
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(
        &proof,
        new.size,
        Hash(new_root),
        verified.size,
        Hash(old_root),
    )
    .map_err(|e| fork(verified, new, &format!("consistency proof rejected: {e}")))
}

fn fork(verified: &TreeHead, new: &TreeHead, reason: &str) -> Alert {
    Alert::Fork {
        verified_size: verified.size,
        verified_root: verified.root.clone(),
        size: new.size,
        root: new.root.clone(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64, root: [u8; 32]) -> TreeHead {
        TreeHead {
            origin: "o".into(),
            size,
            root: hex::encode(root),
            signed: String::new(),
        }
    }

    fn leaf(i: u8) -> Hash {
        tlog_tiles::record_hash(&[i])
    }

    #[test]
    fn proofs_are_accepted_only_for_a_true_prefix() {
        // D[0:3] and D[0:4]: PROOF(3, D[4]) = [leaf 2, leaf 3, MTH(D[0:2])]
        // (RFC 6962 2.1.3's worked example, order deepest first).
        let (l0, l1, l2, l3) = (leaf(0), leaf(1), leaf(2), leaf(3));
        let h01 = tlog_tiles::node_hash(l0, l1);
        let old_root = tlog_tiles::node_hash(h01, l2);
        let new_root = tlog_tiles::node_hash(h01, tlog_tiles::node_hash(l2, l3));
        let old = head(3, old_root.0);
        let new = head(4, new_root.0);
        assert_eq!(compare(&old, &new), Ok(Next::NeedProof));
        check_proof(&old, &new, &[l2.0, l3.0, h01.0]).expect("valid proof");

        let other = head(
            4,
            tlog_tiles::node_hash(h01, tlog_tiles::node_hash(l3, l2)).0,
        );
        let err = check_proof(&old, &other, &[l2.0, l3.0, h01.0]).unwrap_err();
        assert_eq!(err.kind(), "fork");
        assert_eq!(
            check_proof(&old, &new, &[l2.0, h01.0]).unwrap_err().kind(),
            "fork"
        );
    }

    #[test]
    fn sizes_alone_decide_rollback_and_same_size_forks() {
        let a = head(5, [1; 32]);
        assert_eq!(
            compare(&a, &head(4, [1; 32])).unwrap_err().kind(),
            "rollback"
        );
        assert_eq!(compare(&a, &head(5, [2; 32])).unwrap_err().kind(), "fork");
        assert_eq!(compare(&a, &head(5, [1; 32])), Ok(Next::Accept));
        assert_eq!(compare(&head(0, [0; 32]), &a), Ok(Next::Accept));
    }
}
