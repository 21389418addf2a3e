//! Fulcio's gRPC API (`dev.sigstore.fulcio.v2.CA`) on `atesto ca`'s port,
//! driven by a tonic client over HTTP/2 (prior knowledge) while REST keeps
//! answering HTTP/1.1 on the same port: each RPC, and each refusal with the
//! message REST gives for the same request.

mod support;

use atesto_ca::api::grpc::proto::ca_client::CaClient;
use atesto_ca::api::grpc::proto::create_signing_certificate_request::Key;
use atesto_ca::api::grpc::proto::{
    CreateSigningCertificateRequest, Credentials, GetConfigurationRequest, GetTrustBundleRequest,
    PublicKey, PublicKeyRequest, credentials, oidc_issuer, signing_certificate,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Request};
use x509_parser::prelude::*;

use support::ca::*;
use support::*;

/// A tonic client of the stack's CA and the runtime it runs on.
struct Grpc {
    runtime: tokio::runtime::Runtime,
    client: CaClient<Channel>,
}

impl Grpc {
    fn connect(stack: &CaStack) -> Grpc {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = stack.ca.url("");
        let channel = runtime.block_on(async {
            Channel::from_shared(url.trim_end_matches('/').to_owned())
                .unwrap()
                .connect()
                .await
                .unwrap()
        });
        Grpc {
            runtime,
            client: CaClient::new(channel),
        }
    }

    /// The PEM chain of a CreateSigningCertificate reply, or its refusal.
    fn sign(
        &mut self,
        request: Request<CreateSigningCertificateRequest>,
    ) -> Result<Vec<String>, tonic::Status> {
        let reply = self
            .runtime
            .block_on(self.client.create_signing_certificate(request))?;
        match reply.into_inner().certificate {
            Some(signing_certificate::Certificate::SignedCertificateEmbeddedSct(embedded)) => {
                Ok(embedded.chain.unwrap_or_default().certificates)
            }
            other => panic!("expected an embedded SCT chain, got {other:?}"),
        }
    }
}

/// A public-key request with the proof over `challenge` and, if given, the
/// token in the message (as sigstore-java sends it).
fn public_key_request(
    signer: &Signer,
    challenge: &str,
    token: Option<&str>,
) -> CreateSigningCertificateRequest {
    CreateSigningCertificateRequest {
        credentials: token.map(|token| Credentials {
            credentials: Some(credentials::Credentials::OidcIdentityToken(
                token.to_owned(),
            )),
        }),
        key: Some(Key::PublicKeyRequest(PublicKeyRequest {
            public_key: Some(PublicKey {
                algorithm: 2, // ECDSA; advisory
                content: signer.public_key_pem(),
            }),
            proof_of_possession: signer.sign(challenge.as_bytes()),
        })),
    }
}

/// The same request in the REST API's JSON.
fn rest_request(signer: &Signer, challenge: &str) -> Value {
    json!({
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": signer.public_key_pem()},
            "proofOfPossession": STANDARD.encode(signer.sign(challenge.as_bytes())),
        }
    })
}

fn leaf_san(chain: &[String]) -> Vec<String> {
    let der = pem_rfc7468::decode_vec(chain[0].as_bytes()).unwrap().1;
    let (_, leaf) = X509Certificate::from_der(&der).unwrap();
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::RFC822Name(email) => email.to_string(),
            GeneralName::URI(uri) => uri.to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

#[test]
fn each_rpc_answers_as_rest_does_on_the_same_port() {
    let stack = CaStack::start();
    let mut grpc = Grpc::connect(&stack);

    // Token in the message, public key + proof of possession.
    let signer = Signer::new();
    let token = stack.email_token("release@k8s.io");
    let chain = grpc
        .sign(Request::new(public_key_request(
            &signer,
            "release@k8s.io",
            Some(&token),
        )))
        .unwrap();
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    assert_eq!(leaf_san(&chain), vec!["release@k8s.io"]);
    // The precertificate went through the CT log, as for REST.
    let sth = stack.ct.get("/ct/v1/get-sth").json();
    assert_eq!(sth["tree_size"], 1, "{sth}");

    // Token in Fulcio's metadata key, key as a DER CSR.
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&key)
        .unwrap();
    let mut request = Request::new(CreateSigningCertificateRequest {
        credentials: None,
        key: Some(Key::CertificateSigningRequest(csr.der().to_vec())),
    });
    let token = stack.kubernetes_token("release", "signer");
    request
        .metadata_mut()
        .insert("oidcidentitytoken", token.parse().unwrap());
    let chain = grpc.sign(request).unwrap();
    assert_eq!(
        leaf_san(&chain),
        vec!["https://kubernetes.io/namespaces/release/serviceaccounts/signer"]
    );

    // Token as `authorization: Bearer`.
    let mut request = Request::new(public_key_request(&signer, "dev@k8s.io", None));
    let token = stack.email_token("dev@k8s.io");
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let issued = grpc.sign(request).unwrap();

    // The trust bundle is REST's, and the tail of every issued chain.
    let bundle = grpc
        .runtime
        .block_on(grpc.client.get_trust_bundle(GetTrustBundleRequest {}))
        .unwrap()
        .into_inner();
    let rest_bundle = stack.ca.get("/api/v2/trustBundle").json();
    let rest_chain: Vec<String> =
        serde_json::from_value(rest_bundle["chains"][0]["certificates"].clone()).unwrap();
    assert_eq!(bundle.chains.len(), 1);
    assert_eq!(bundle.chains[0].certificates, rest_chain);
    assert_eq!(issued[1..], rest_chain[..]);

    // The configuration lists REST's issuers, field for field.
    let configuration = grpc
        .runtime
        .block_on(grpc.client.get_configuration(GetConfigurationRequest {}))
        .unwrap()
        .into_inner();
    let rest = stack.ca.get("/api/v2/configuration").json();
    let rest_issuers = rest["issuers"].as_array().unwrap();
    assert_eq!(configuration.issuers.len(), rest_issuers.len());
    for (issuer, rest) in configuration.issuers.iter().zip(rest_issuers) {
        let Some(oidc_issuer::Issuer::IssuerUrl(url)) = &issuer.issuer else {
            panic!("{issuer:?}");
        };
        assert_eq!(Some(url.as_str()), rest["issuerUrl"].as_str());
        assert_eq!(Some(issuer.audience.as_str()), rest["audience"].as_str());
        assert_eq!(
            Some(issuer.challenge_claim.as_str()),
            rest["challengeClaim"].as_str()
        );
        assert_eq!(
            Some(issuer.issuer_type.as_str()),
            rest["issuerType"].as_str()
        );
    }
    for url in [&stack.email.url, &stack.kubernetes.url, &stack.github.url] {
        assert!(
            configuration
                .issuers
                .iter()
                .any(|i| i.issuer == Some(oidc_issuer::Issuer::IssuerUrl(url.clone()))),
            "{url}: {configuration:?}"
        );
    }
}

/// Sends `request` over gRPC and the same request over REST; both must be
/// refused, with `code` and the HTTP `status`, and the same message.
fn refused_alike(
    stack: &CaStack,
    grpc: &mut Grpc,
    request: CreateSigningCertificateRequest,
    rest: &Value,
    token: Option<&str>,
    (code, status): (Code, u16),
) -> String {
    let mut grpc_request = Request::new(request);
    if let Some(token) = token {
        grpc_request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let refusal = grpc.sign(grpc_request).unwrap_err();
    let rest_reply = match token {
        Some(token) => stack.ca.post_bearer("/api/v2/signingCert", rest, token),
        None => stack.ca.post("/api/v2/signingCert", rest),
    };
    let rest_message = rest_reply.expect_error(status);
    assert_eq!(refusal.code(), code, "{refusal:?}");
    assert_eq!(refusal.message(), rest_message);
    rest_message
}

#[test]
fn refusals_carry_rests_message_and_the_matching_code() {
    let stack = CaStack::start();
    let mut grpc = Grpc::connect(&stack);
    let signer = Signer::new();

    // No token at all.
    let message = refused_alike(
        &stack,
        &mut grpc,
        public_key_request(&signer, "dev@k8s.io", None),
        &rest_request(&signer, "dev@k8s.io"),
        None,
        (Code::Unauthenticated, 401),
    );
    assert!(message.contains("no identity token"), "{message}");

    // An expired token.
    let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
    claims["exp"] = json!(now() - 120);
    claims["iat"] = json!(now() - 600);
    claims["nbf"] = json!(now() - 600);
    let expired = stack.email.dev.mint(claims);
    let message = refused_alike(
        &stack,
        &mut grpc,
        public_key_request(&signer, "dev@k8s.io", None),
        &rest_request(&signer, "dev@k8s.io"),
        Some(&expired),
        (Code::Unauthenticated, 401),
    );
    assert!(message.contains("expired"), "{message}");

    // A token from an issuer this CA does not know.
    let mut claims = email_claims(&stack.email.url, "dev@k8s.io");
    claims["iss"] = json!("https://issuer.invalid");
    let unknown = stack.email.dev.mint(claims);
    let message = refused_alike(
        &stack,
        &mut grpc,
        public_key_request(&signer, "dev@k8s.io", None),
        &rest_request(&signer, "dev@k8s.io"),
        Some(&unknown),
        (Code::Unauthenticated, 401),
    );
    assert!(message.contains("unknown issuer"), "{message}");

    // A proof of possession over another identity.
    let token = stack.email_token("dev@k8s.io");
    let message = refused_alike(
        &stack,
        &mut grpc,
        public_key_request(&signer, "someone-else@k8s.io", None),
        &rest_request(&signer, "someone-else@k8s.io"),
        Some(&token),
        (Code::InvalidArgument, 400),
    );
    assert!(message.contains("proof of possession"), "{message}");

    // No key at all.
    let refusal = grpc
        .sign(Request::new(CreateSigningCertificateRequest {
            credentials: Some(Credentials {
                credentials: Some(credentials::Credentials::OidcIdentityToken(token.clone())),
            }),
            key: None,
        }))
        .unwrap_err();
    assert_eq!(refusal.code(), Code::InvalidArgument);
    assert!(refusal.message().contains("no public key"), "{refusal:?}");

    // The same token and key with a proof over the right identity succeed.
    let chain = grpc
        .sign(Request::new(public_key_request(
            &signer,
            "dev@k8s.io",
            Some(&token),
        )))
        .unwrap();
    assert_eq!(leaf_san(&chain), vec!["dev@k8s.io"]);
}
