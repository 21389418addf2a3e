//! RFC 6962 hashes and proofs, verified as the RFC writes them.

use sha2::{Digest, Sha256};

// ---- RFC 6962 / RFC 9162 hashing and proof verification ----

pub type Hash = [u8; 32];

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// MTH over leaf hashes (RFC 6962 2.1).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// The largest power of two below `n` (n >= 2), where RFC 6962 splits a tree.
pub fn split_point(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

pub fn hex32(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap_or_else(|e| panic!("{text:?} is not 64 hex: {e}"));
    out
}

/// RFC 9162 2.1.3.2: does `proof` show leaf `index` in the tree of `size` with `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// RFC 9162 2.1.4.2: does `proof` show the tree (`first`, `first_root`) is a
/// prefix of (`second`, `second_root`)?
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

/// Self-tests of the verifiers against proofs built straight from RFC 6962 2.1.
#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// PATH(m, D[n]).
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split_point(d.len());
        let (mut p, sibling) = if m < k {
            (path(m, &d[..k]), merkle_root(&d[k..]))
        } else {
            (path(m - k, &d[k..]), merkle_root(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Hash], complete: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![merkle_root(d)]
            };
        }
        let k = split_point(n);
        let (mut p, sibling) = if m <= k {
            (subproof(m, &d[..k], complete), merkle_root(&d[k..]))
        } else {
            (subproof(m - k, &d[k..], false), merkle_root(&d[..k]))
        };
        p.push(sibling);
        p
    }

    /// The proof with each hash flipped in turn, then without its last hash.
    fn tamperings(proof: &[Hash]) -> Vec<Vec<Hash>> {
        let mut out: Vec<Vec<Hash>> = (0..proof.len())
            .map(|i| {
                let mut p = proof.to_vec();
                p[i][0] ^= 1;
                p
            })
            .collect();
        if let Some((_, shorter)) = proof.split_last() {
            out.push(shorter.to_vec());
        }
        out
    }

    #[test]
    fn verifiers_accept_good_proofs_and_refuse_bad_ones() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let root = merkle_root(&all[..n]);
            for m in 0..n {
                let proof = path(m, &all[..n]);
                assert!(verify_inclusion(m as u64, n as u64, &all[m], &proof, &root));
                assert!(!verify_inclusion(
                    m as u64,
                    n as u64,
                    &leaf_hash(b"x"),
                    &proof,
                    &root
                ));
                assert!(!verify_inclusion(
                    n as u64, n as u64, &all[m], &proof, &root
                ));
                for tampered in tamperings(&proof) {
                    assert!(!verify_inclusion(
                        m as u64, n as u64, &all[m], &tampered, &root
                    ));
                }
            }
            for m in 1..=n {
                let old = merkle_root(&all[..m]);
                let proof = subproof(m, &all[..n], true);
                assert!(verify_consistency(m as u64, n as u64, &proof, &old, &root));
                if m < n {
                    assert!(!verify_consistency(
                        m as u64, n as u64, &proof, &root, &root
                    ));
                    for tampered in tamperings(&proof) {
                        assert!(!verify_consistency(
                            m as u64, n as u64, &tampered, &old, &root
                        ));
                    }
                }
            }
        }
    }
}
