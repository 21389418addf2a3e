//! sigstore-rs 0.15's Fulcio client (`request_cert_v2`) against a running
//! `atesto ca`: a real, unmodified client gets a certificate with an
//! embedded SCT.

mod support;

use sigstore::fulcio::FulcioClient;
use sigstore::fulcio::oauth::OauthTokenProvider;
use sigstore::oauth::IdentityToken;
use x509_cert::der::{Decode, Encode};

use support::ca::*;

#[test]
fn request_cert_v2_gets_a_certificate_with_an_embedded_sct() {
    let stack = CaStack::start();
    let token = stack
        .email
        .dev
        .mint_portable(email_claims(&stack.email.url, "rust@k8s.io"));
    let identity = IdentityToken::try_from(token.as_str()).expect("sigstore-rs parses the token");

    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rust@k8s.io");
    let csr = params.serialize_request(&key).unwrap();
    let request = x509_cert::request::CertReq::from_der(csr.der()).unwrap();

    let url = reqwest::Url::parse(&stack.ca.url("/")).unwrap();
    let client = FulcioClient::new(
        url,
        sigstore::fulcio::TokenProvider::Oauth(OauthTokenProvider::default()),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime
        .block_on(client.request_cert_v2(request, &identity))
        .expect("certificate from atesto ca");

    assert!(response.detached_sct.is_none(), "the SCT is embedded");
    assert_eq!(response.chain.len(), 2, "intermediate and root");
    let tbs = response.cert.tbs_certificate();
    assert_eq!(
        tbs.subject_public_key_info().to_der().unwrap(),
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    let sct_list = tbs
        .extensions()
        .unwrap()
        .iter()
        .filter(|e| e.extn_id.to_string() == "1.3.6.1.4.1.11129.2.4.2")
        .count();
    assert_eq!(sct_list, 1);
}
