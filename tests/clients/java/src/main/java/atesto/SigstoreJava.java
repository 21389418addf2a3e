package atesto;

import dev.sigstore.AlgorithmRegistry;
import dev.sigstore.KeylessSigner;
import dev.sigstore.KeylessVerifier;
import dev.sigstore.SigningConfigProvider;
import dev.sigstore.TrustedRootProvider;
import dev.sigstore.VerificationOptions;
import dev.sigstore.bundle.Bundle;
import dev.sigstore.fulcio.client.FulcioClient;
import dev.sigstore.fulcio.client.FulcioClientGrpc;
import dev.sigstore.http.HttpParams;
import dev.sigstore.oidc.client.OidcClients;
import dev.sigstore.oidc.client.TokenStringOidcClient;
import dev.sigstore.strings.StringMatcher;
import dev.sigstore.trustroot.Service;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * sigstore-java's keyless signer and verifier, configured from the trusted root and signing
 * config that `atesto dev` writes, with an identity token read from a file.
 *
 * <pre>
 * sign   TRUSTED_ROOT SIGNING_CONFIG TOKEN_FILE ARTIFACT BUNDLE_OUT
 * verify TRUSTED_ROOT ARTIFACT BUNDLE SAN ISSUER
 * </pre>
 *
 * Exits 0 on success; on a refusal prints sigstore-java's error chain and exits 1.
 */
public final class SigstoreJava {
  public static void main(String[] args) throws Exception {
    try {
      if (args.length == 6 && args[0].equals("sign")) {
        sign(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]), Path.of(args[4]), Path.of(args[5]));
      } else if (args.length == 6 && args[0].equals("verify")) {
        verify(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]), args[4], args[5]);
      } else {
        System.err.println(
            "usage: sign TRUSTED_ROOT SIGNING_CONFIG TOKEN_FILE ARTIFACT BUNDLE_OUT\n"
                + "       verify TRUSTED_ROOT ARTIFACT BUNDLE SAN ISSUER");
        System.exit(2);
      }
    } catch (Exception e) {
      for (Throwable cause = e; cause != null; cause = cause.getCause()) {
        System.err.println(cause);
      }
      System.exit(1);
    }
  }

  static void sign(Path trustedRoot, Path signingConfig, Path tokenFile, Path artifact, Path out)
      throws Exception {
    var token = Files.readString(tokenFile, StandardCharsets.UTF_8).trim();
    var signingConfigProvider = SigningConfigProvider.from(signingConfig);
    try (var signer =
        KeylessSigner.builder()
            .trustedRootProvider(TrustedRootProvider.from(trustedRoot))
            .signingConfigProvider(signingConfigProvider)
            .forceCredentialProviders(OidcClients.of(TokenStringOidcClient.from(token)))
            .signingAlgorithm(AlgorithmRegistry.SigningAlgorithm.PKIX_ECDSA_P256_SHA_256)
            .build()) {
      plaintextFulcio(signer, signingConfigProvider);
      Bundle bundle = signer.signFile(artifact);
      Files.writeString(out, bundle.toJson(), StandardCharsets.UTF_8);
    }
  }

  /**
   * KeylessSigner always dials Fulcio's gRPC API over TLS (its HttpParams are not configurable
   * and default to allowInsecureConnections=false), and `atesto dev` serves plain HTTP on
   * loopback. This swaps in the same gRPC client built with plaintext allowed; everything else
   * (token, key, proof, Rekor, bundle) is sigstore-java's own flow.
   */
  private static void plaintextFulcio(KeylessSigner signer, SigningConfigProvider config)
      throws Exception {
    Service ca = Service.select(config.get().getCas(), List.of(1)).orElseThrow();
    FulcioClient plaintext =
        FulcioClientGrpc.builder()
            .setHttpParams(HttpParams.builder().allowInsecureConnections(true).build())
            .setService(ca)
            .build();
    var field = KeylessSigner.class.getDeclaredField("fulcioClient");
    field.setAccessible(true);
    field.set(signer, plaintext);
  }

  static void verify(Path trustedRoot, Path artifact, Path bundleFile, String san, String issuer)
      throws Exception {
    var verifier =
        KeylessVerifier.builder().trustedRootProvider(TrustedRootProvider.from(trustedRoot)).build();
    var bundle = Bundle.from(bundleFile, StandardCharsets.UTF_8);
    var options =
        VerificationOptions.builder()
            .addCertificateMatchers(
                VerificationOptions.CertificateMatcher.fulcio()
                    .subjectAlternativeName(StringMatcher.string(san))
                    .issuer(StringMatcher.string(issuer))
                    .build())
            .build();
    verifier.verify(artifact, bundle, options);
  }
}
