"""sigstore-python library verification with certificate-extension policies.

The 4.5.1 CLI has no flags for Fulcio's v2 extensions, and `verify github`
pins the public GitHub issuer, so the Rust test checks a GitHub Actions
identity from another issuer through the library's own policy classes.

    python verify_extensions.py TRUST_CONFIG BUNDLE ARTIFACT IDENTITY ISSUER \
        BUILD_SIGNER_URI SOURCE_REPOSITORY_URI SOURCE_REPOSITORY_DIGEST

Exits 0 when verified; prints the error and exits 1 otherwise.
"""

import sys
from pathlib import Path

from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier, policy


def main() -> int:
    (trust_config, bundle, artifact, identity, issuer, signer, repo, digest) = sys.argv[1:]
    config = ClientTrustConfig.from_json(Path(trust_config).read_text())
    verifier = Verifier(trusted_root=config.trusted_root)
    checks = policy.AllOf(
        [
            policy.Identity(identity=identity, issuer=issuer),
            policy.OIDCBuildSignerURI(signer),
            policy.OIDCSourceRepositoryURI(repo),
            policy.OIDCSourceRepositoryDigest(digest),
        ]
    )
    try:
        verifier.verify_artifact(
            Path(artifact).read_bytes(), Bundle.from_json(Path(bundle).read_bytes()), checks
        )
    except Exception as e:  # any refusal is a failed verification
        print(f"sigstore-python: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
