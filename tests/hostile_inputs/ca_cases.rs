//! Hostile requests and tokens to the CA.

use base64::Engine;
use serde_json::json;

use super::cases::*;

/// JWTs that are broken in every part, each sent as a bearer token.
fn hostile_tokens() -> Vec<(&'static str, String)> {
    let part = |value: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    let header = part(r#"{"alg":"ES256","kid":"k"}"#);
    let claims = part(r#"{"iss":"https://x.example","aud":"sigstore","exp":99999999999}"#);
    vec![
        ("empty", String::new()),
        ("one part", "abc".into()),
        ("four parts", "a.b.c.d".into()),
        ("not base64", "!!!.!!!.!!!".into()),
        ("header not JSON", format!("{}.{claims}.sig", part("nope"))),
        (
            "header deep",
            format!("{}.{claims}.sig", part(&nested_arrays(5000))),
        ),
        (
            "claims deep",
            format!("{header}.{}.sig", part(&nested_objects(3000))),
        ),
        (
            "alg none",
            format!("{}.{claims}.", part(r#"{"alg":"none"}"#)),
        ),
        (
            "crit",
            format!("{}.{claims}.sig", part(r#"{"alg":"ES256","crit":["x"]}"#)),
        ),
        (
            "iss a number",
            format!("{header}.{}.sig", part(r#"{"iss":1e400}"#)),
        ),
        (
            "iss huge",
            format!(
                "{header}.{}.sig",
                part(&format!(r#"{{"iss":"https://{}"}}"#, "a-".repeat(5000)))
            ),
        ),
        (
            "exp huge",
            format!(
                "{header}.{}.sig",
                part(r#"{"iss":"https://x.example","exp":1e400}"#)
            ),
        ),
        ("over the size cap", "a".repeat(20_000) + ".b.c"),
        ("non-ASCII", "é.é.é".into()),
    ]
}

pub(super) fn ca_cases() -> Vec<Case> {
    let v2 = "/api/v2/signingCert";
    let v1 = "/api/v1/signingCert";
    let mut cases = json_endpoint_cases(&[v2, v1]);
    cases.extend(protocol_cases());
    let request = |content: &str, proof: &str| json!({"publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": content}, "proofOfPossession": proof}});
    for (name, token) in hostile_tokens() {
        cases.push(
            post_json(v2, &request("x", "AAAA"))
                .header("Authorization", format!("Bearer {token}"))
                .named(format!("token {name}")),
        );
        cases.push(
            post_json(v2, &json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": "AAAA"}))
                .named(format!("body token {name}")),
        );
    }
    cases.push(
        post_json(v2, &request("x", "AAAA"))
            .header("Authorization", "Bearer")
            .named("bearer without token"),
    );
    cases.push(
        post_json(v2, &request("x", "AAAA"))
            .header("Authorization", "Basic eDp5")
            .named("basic auth"),
    );
    // Key and CSR content: the token check comes first, so these also
    // carry a token; the refusal may name either.
    let token = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln";
    for (name, body) in [
        ("key garbage", request("garbage", "AAAA")),
        (
            "key DER with a 4 GiB length",
            request(&b64(DER_HUGE_LENGTH), "AAAA"),
        ),
        (
            "key PEM deep",
            request(&pem("PUBLIC KEY", &der_deep()), "AAAA"),
        ),
        (
            "proof not base64",
            request(&pem("PUBLIC KEY", &[0x30, 0]), "!!!"),
        ),
        (
            "algorithm odd",
            json!({"publicKeyRequest": {"publicKey": {"algorithm": "ROT13", "content": "x"}}}),
        ),
        (
            "CSR not base64",
            json!({"certificateSigningRequest": "!!!"}),
        ),
        (
            "CSR base64 of garbage",
            json!({"certificateSigningRequest": b64(b"garbage")}),
        ),
        (
            "CSR PEM of deep DER",
            json!({"certificateSigningRequest": b64(pem("CERTIFICATE REQUEST", &der_deep()).as_bytes())}),
        ),
        (
            "CSR PEM with a 4 GiB length",
            json!({"certificateSigningRequest": b64(pem("CERTIFICATE REQUEST", DER_HUGE_LENGTH).as_bytes())}),
        ),
        (
            "both key and CSR",
            json!({"certificateSigningRequest": "AAAA", "publicKeyRequest": {}}),
        ),
    ] {
        cases.push(
            post_json(v2, &body)
                .header("Authorization", format!("Bearer {token}"))
                .named(name),
        );
    }
    cases.push(
        post_json(v1, &json!({"publicKey": {"content": "!!!", "algorithm": "ecdsa"}, "signedEmailAddress": "!!!"}))
            .header("Authorization", format!("Bearer {token}"))
            .named("v1 garbage"),
    );
    for path in [
        "/api/v2/trustBundle?x=%zz",
        "/api/v2/configuration/extra",
        "/api/v1/rootCert/..",
        "/tuf/..%2F..%2Fetc%2Fpasswd",
        "/tuf/%00",
        "/dev-oidc/email/nope",
    ] {
        cases.push(get(path));
    }
    cases
}
