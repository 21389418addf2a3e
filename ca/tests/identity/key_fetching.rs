//! The issuers' keys: rotation, refetch limits, TTLs, static JWKS files and
//! service-account tokens for API servers.

use super::*;

fn fast_options(ttl: Duration, cooldown: Duration) -> VerifierOptions {
    VerifierOptions {
        jwks_ttl: ttl,
        unknown_kid_cooldown: cooldown,
        ..VerifierOptions::default()
    }
}

fn email_verifier_with(issuer: &DevIssuer, options: VerifierOptions) -> IdentityVerifier {
    verifier_with(
        json!({"OIDCIssuers": {issuer.issuer_url(): {"Type": "email"}}}),
        options,
    )
}

#[tokio::test]
async fn key_rotation_is_picked_up_with_one_refetch() {
    let issuer = serve_issuer().await;
    let verifier = email_verifier_with(
        &issuer,
        fast_options(Duration::from_secs(3600), Duration::from_millis(100)),
    );
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    tokio::time::sleep(Duration::from_millis(150)).await;
    issuer.rotate_key(false);
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2, "the new key is cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_burst_fetches_at_most_once_per_cooldown() {
    let issuer = serve_issuer().await;
    let cooldown = Duration::from_millis(300);
    let verifier = Arc::new(email_verifier_with(
        &issuer,
        fast_options(Duration::from_secs(3600), cooldown),
    ));
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;

    // Same issuer URL, keys never published by the served issuer.
    let impostor = DevIssuer::new(issuer.issuer_url().to_string());
    for round in 0..2 {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let verifier = verifier.clone();
            let token = impostor.mint(email_claims());
            tasks.spawn(async move { verifier.verify(&token).await });
        }
        while let Some(result) = tasks.join_next().await {
            let message = result.unwrap().unwrap_err().to_string();
            assert_eq!(
                message,
                format!(
                    "no key {} in the JWKS of issuer {}",
                    impostor.current_kid(),
                    issuer.issuer_url()
                )
            );
        }
        // The first burst may refetch once; the second is inside the cooldown.
        assert_eq!(issuer.jwks_fetches(), 2, "round {round}");
    }
}

#[tokio::test]
async fn keys_are_refetched_after_the_ttl() {
    let issuer = serve_issuer().await;
    let ttl = Duration::from_millis(300);
    let verifier = email_verifier_with(&issuer, fast_options(ttl, Duration::from_secs(60)));
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn withdrawn_key_stops_verifying_after_the_ttl() {
    let issuer = serve_issuer().await;
    let ttl = Duration::from_millis(200);
    let verifier = email_verifier_with(&issuer, fast_options(ttl, Duration::from_secs(60)));
    let old_token = issuer.mint(email_claims());
    verifier.verify(&old_token).await.unwrap();
    issuer.rotate_key(false);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let error = verifier.verify(&old_token).await.unwrap_err();
    assert!(matches!(error, IdentityError::NoKey { .. }), "{error}");
}

#[tokio::test]
async fn static_jwks_file_needs_no_network() {
    // Never served: any fetch would fail.
    let issuer = DevIssuer::new("https://static.example.com".into());
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, issuer.jwks_json().to_string()).unwrap();
    let verifier = verifier_for(
        issuer.issuer_url(),
        json!({"Type": "email", "JWKSFile": jwks_path}),
    );
    let principal = verifier.verify(&issuer.mint(email_claims())).await.unwrap();
    assert_eq!(principal.challenge, "alice@example.com");
    assert_eq!(issuer.jwks_fetches(), 0);

    issuer.rotate_key(false);
    let token = issuer.mint(email_claims());
    let expected = format!(
        "no key {} in the JWKS of issuer https://static.example.com",
        issuer.current_kid()
    );
    assert_refused(&verifier, &token, &expected).await;
}

#[tokio::test]
async fn bearer_token_file_is_sent_to_the_issuer() {
    use axum::http::{HeaderMap, StatusCode};
    // An issuer that, like a locked-down API server, refuses anonymous reads.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = DevIssuer::new(url.clone());
    let guarded = issuer.router().layer(axum::middleware::from_fn(
        |headers: HeaderMap, request: axum::extract::Request, next: axum::middleware::Next| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer sa-token") {
                next.run(request).await
            } else {
                axum::response::IntoResponse::into_response(StatusCode::UNAUTHORIZED)
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, guarded).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "sa-token\n").unwrap();

    let anonymous = verifier_for(&url, json!({"Type": "email"}));
    let error = anonymous
        .verify(&issuer.mint(email_claims()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 401"), "{error}");

    let authenticated = verifier_for(
        &url,
        json!({"Type": "email", "ServiceAccountTokenFile": token_path}),
    );
    authenticated
        .verify(&issuer.mint(email_claims()))
        .await
        .unwrap();
}

#[test]
fn verifier_options_deserialize_from_seconds() {
    let options: VerifierOptions =
        serde_json::from_value(json!({"client_id": "atesto", "jwks_ttl_secs": 5})).unwrap();
    assert_eq!(options.client_id, "atesto");
    assert_eq!(options.jwks_ttl, Duration::from_secs(5));
    assert_eq!(options.max_token_bytes, 16384);
    assert!(serde_json::from_value::<VerifierOptions>(json!({"jwks_ttl": 5})).is_err());
}

/// The `jwks_uri` a discovery document names, from the issuer's port and
/// another listener's.
type JwksUri = fn(u16, u16) -> String;

/// Requests for keys seen by [`serve_sa_issuer`]: path and Authorization.
type SeenRequests = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// An issuer at `listener` whose discovery names `jwks_uri` and which
/// serves `issuer`'s keys on every other path, recording each request.
fn serve_sa_issuer(
    listener: tokio::net::TcpListener,
    issuer: &DevIssuer,
    jwks_uri: String,
    seen: SeenRequests,
) {
    use axum::http::HeaderMap;
    let discovery = json!({"issuer": issuer.issuer_url(), "jwks_uri": jwks_uri});
    let keys = issuer.jwks_json();
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .fallback(move |uri: axum::http::Uri, headers: HeaderMap| async move {
            let authorization = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            seen.lock()
                .unwrap()
                .push((uri.path().to_owned(), authorization));
            axum::Json(keys)
        });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// The service-account token goes to the configured issuer's scheme, host
/// and port only. A `jwks_uri` that a hand-written splitter read as the
/// issuer's host (`localhost:P\@127.0.0.1:P`, which the URL parser of the
/// HTTP client reads as host `localhost`) got the bearer sent to another host.
#[tokio::test]
async fn service_account_token_goes_to_the_issuer_origin_only() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "sa-token\n").unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_port = other.local_addr().unwrap().port();
    let other_seen = SeenRequests::default();
    let placeholder = DevIssuer::new("http://unused".into());
    serve_sa_issuer(other, &placeholder, String::new(), other_seen.clone());

    let cases: [(&str, JwksUri); 3] = [
        ("same origin", |port, _| {
            format!("http://127.0.0.1:{port}/sa/keys")
        }),
        ("backslash before @", |port, _| {
            format!("http://localhost:{port}\\@127.0.0.1:{port}/sa/keys")
        }),
        ("same host, another port", |_, other| {
            format!("http://127.0.0.1:{other}/sa/keys")
        }),
    ];
    for (case, jwks_uri) in cases {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let issuer = DevIssuer::new(url.clone());
        let seen = SeenRequests::default();
        serve_sa_issuer(listener, &issuer, jwks_uri(port, other_port), seen.clone());
        let verifier = verifier_for(
            &url,
            json!({"Type": "email", "ServiceAccountTokenFile": token_path}),
        );
        let result = verifier.verify(&issuer.mint(email_claims())).await;
        let bearer = Some("Bearer sa-token".to_owned());
        match case {
            "same origin" => {
                result.unwrap();
                assert_eq!(
                    seen.lock().unwrap().as_slice(),
                    [("/sa/keys".to_owned(), bearer)]
                );
            }
            "backslash before @" => {
                let requests = seen.lock().unwrap().clone();
                assert_eq!(requests.len(), 1, "{case}: {requests:?}");
                assert_eq!(
                    requests[0].1, None,
                    "{case}: the bearer left the issuer's origin"
                );
                result.unwrap();
            }
            _ => {
                // The other listener holds another key set: verification
                // fails, but what matters is what it was sent.
                let _ = result;
                let requests = other_seen.lock().unwrap().clone();
                assert_eq!(requests.len(), 1, "{case}: {requests:?}");
                assert_eq!(
                    requests[0].1, None,
                    "{case}: the bearer went to another port"
                );
            }
        }
    }
}
