// Command sigstore-go-verify verifies a sigstore bundle with sigstore-go's
// verifier against a trusted_root.json, under a certificate identity policy
// (SAN + OIDC issuer). The Atesto tests run it on bundles made by other
// clients. Exit 0 and one line "verified ..." on success; exit 1 with the
// verifier's error otherwise; exit 2 on bad arguments.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

func main() {
	trustedRootPath := flag.String("trusted-root", "", "trusted_root.json")
	bundlePath := flag.String("bundle", "", "the bundle to verify")
	artifactPath := flag.String("artifact", "", "the signed artifact (a DSSE bundle's in-toto subject)")
	san := flag.String("san", "", "the certificate's expected subject alternative name")
	issuer := flag.String("issuer", "", "the certificate's expected OIDC issuer")
	signedTimestamps := flag.Int("signed-timestamps", 0, "require this many RFC 3161 timestamps from trusted TSAs")
	flag.Parse()
	if *trustedRootPath == "" || *bundlePath == "" || *artifactPath == "" || *san == "" || *issuer == "" {
		fmt.Fprintln(os.Stderr, "usage: sigstore-go-verify --trusted-root F --bundle F --artifact F --san S --issuer U")
		os.Exit(2)
	}
	if err := run(*trustedRootPath, *bundlePath, *artifactPath, *san, *issuer, *signedTimestamps); err != nil {
		fmt.Fprintln(os.Stderr, "verification failed:", err)
		os.Exit(1)
	}
}

func run(trustedRootPath, bundlePath, artifactPath, san, issuer string, signedTimestamps int) error {
	trustedRoot, err := root.NewTrustedRootFromPath(trustedRootPath)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	signed, err := bundle.LoadJSONFromPath(bundlePath)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	// What the public-good instance requires of a bundle: an SCT from a
	// trusted CT log, a tlog entry, and a trusted time (the entry's).
	// With --signed-timestamps, the trusted time must come from RFC 3161
	// timestamps signed by a TSA of the trusted root.
	timestamps := verify.WithObserverTimestamps(1)
	if signedTimestamps > 0 {
		timestamps = verify.WithSignedTimestamps(signedTimestamps)
	}
	verifier, err := verify.NewVerifier(trustedRoot,
		verify.WithSignedCertificateTimestamps(1),
		verify.WithTransparencyLog(1),
		timestamps)
	if err != nil {
		return fmt.Errorf("verifier: %w", err)
	}
	identity, err := verify.NewShortCertificateIdentity(issuer, "", san, "")
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	artifact, err := os.Open(artifactPath)
	if err != nil {
		return err
	}
	defer artifact.Close()
	result, err := verifier.Verify(signed, verify.NewPolicy(
		verify.WithArtifact(artifact),
		verify.WithCertificateIdentity(identity)))
	if err != nil {
		return err
	}
	fmt.Printf("verified: %s issued by %s\n",
		result.VerifiedIdentity.SubjectAlternativeName.SubjectAlternativeName,
		result.VerifiedIdentity.Issuer.Issuer)
	return nil
}
