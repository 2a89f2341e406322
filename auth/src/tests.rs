//! Verification against the test keys in `tests/keys/`, the JWKS served over
//! real HTTP on port 0.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::*;

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/keys")
}

fn key(name: &str) -> Vec<u8> {
    std::fs::read(keys_dir().join(name)).expect("test key")
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({ "sub": "7", "scope": "read admin", "iss": "https://idp.test", "aud": "switchyard", "exp": now() + 600 })
}

fn sign(alg: &str, kid: &str, claims: &Value) -> String {
    let private = match alg {
        "ES256" => "ec_private.pem",
        "EdDSA" => "ed_private.pem",
        _ => "rsa_private.pem",
    };
    dev::sign_pem(alg, Some(kid), &key(private), claims).expect("signs")
}

/// Serves `jwks.json` (or only its keys with the kids in `only`, until
/// `full` is set) and counts the fetches.
struct Jwks {
    url: String,
    fetches: Arc<AtomicUsize>,
    full: Arc<std::sync::atomic::AtomicBool>,
}

async fn jwks(only: Option<&'static [&'static str]>) -> Jwks {
    let fetches = Arc::new(AtomicUsize::new(0));
    let full = Arc::new(std::sync::atomic::AtomicBool::new(only.is_none()));
    let document: Value = serde_json::from_slice(&key("jwks.json")).expect("jwks.json");
    let (count, show_all) = (fetches.clone(), full.clone());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let (count, show_all, mut document) =
                (count.clone(), show_all.clone(), document.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                if let (false, Some(only)) = (show_all.load(Ordering::SeqCst), only) {
                    let keys = document["keys"].as_array_mut().expect("keys");
                    keys.retain(|k| only.contains(&k["kid"].as_str().unwrap_or_default()));
                }
                axum::Json(document)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Jwks { url, fetches, full }
}

fn verifier(config: JwtConfig) -> Verifier {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Verifier::new(config, reqwest::Client::new()).expect("keys load")
}

fn jwks_config(url: &str) -> JwtConfig {
    JwtConfig {
        jwks_url: Some(url.to_owned()),
        issuer: Some("https://idp.test".into()),
        audience: vec!["switchyard".into()],
        jwks_refetch_min_secs: 0,
        ..JwtConfig::default()
    }
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_verify_against_a_jwks_url() {
    let server = jwks(None).await;
    let verifier = verifier(jwks_config(&server.url));
    for (alg, kid) in [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let principal = verifier
            .verify(&sign(alg, kid, &claims()))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(principal.subject.as_deref(), Some("7"));
        assert!(principal.has_scope("admin") && principal.has_scope("read"));
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "keys are cached");
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_but_not_more_often_than_allowed() {
    let server = jwks(Some(&["ec-1"])).await;
    let verifier = verifier(jwks_config(&server.url));
    let rsa = sign("RS256", "rsa-1", &claims());
    assert!(matches!(
        verifier.verify(&rsa).await,
        Err(AuthError::Algorithm(_) | AuthError::UnknownKey)
    ));
    let fetched = server.fetches.load(Ordering::SeqCst);
    assert_eq!(fetched, 2, "first use, then once more for the unknown kid");
    // The provider rotates in the RSA key: the next unknown kid finds it.
    server.full.store(true, Ordering::SeqCst);
    verifier.verify(&rsa).await.expect("rotated key verifies");

    // With a minimum gap, unknown kids do not hammer the provider.
    let limited = jwks(Some(&["ec-1"])).await;
    let verifier = super::Verifier::new(
        JwtConfig {
            jwks_refetch_min_secs: 3600,
            ..jwks_config(&limited.url)
        },
        reqwest::Client::new(),
    )
    .expect("verifier");
    for _ in 0..5 {
        assert!(verifier.verify(&rsa).await.is_err());
    }
    assert_eq!(limited.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_a_reason() {
    let server = jwks(None).await;
    let verifier = verifier(jwks_config(&server.url));
    let with = |patch: Value| {
        let mut c = claims();
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        sign("RS256", "rsa-1", &c)
    };
    type Case = (&'static str, String, fn(&AuthError) -> bool);
    let cases: Vec<Case> = vec![
        ("expired", with(json!({ "exp": now() - 120 })), |e| {
            matches!(e, AuthError::Expired)
        }),
        ("not yet valid", with(json!({ "nbf": now() + 600 })), |e| {
            matches!(e, AuthError::NotYetValid)
        }),
        (
            "wrong issuer",
            with(json!({ "iss": "https://evil.test" })),
            |e| matches!(e, AuthError::Issuer),
        ),
        ("wrong audience", with(json!({ "aud": "other" })), |e| {
            matches!(e, AuthError::Audience)
        }),
        (
            "no exp",
            {
                let mut c = claims();
                c.as_object_mut().expect("object").remove("exp");
                sign("RS256", "rsa-1", &c)
            },
            |e| matches!(e, AuthError::MissingClaim(_)),
        ),
        (
            "forged payload",
            {
                let token = sign("RS256", "rsa-1", &claims());
                let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
                parts[1] = b64(&json!({ "sub": "1", "scope": "admin", "iss": "https://idp.test", "aud": "switchyard", "exp": now() + 600 }).to_string());
                parts.join(".")
            },
            |e| matches!(e, AuthError::Signature),
        ),
        (
            "signed by another key under a known kid",
            {
                dev::sign_pem("ES256", Some("ec-1"), &ec_key_not_in_the_jwks(), &claims())
                    .expect("signs")
            },
            |e| matches!(e, AuthError::Signature),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&claims().to_string())
            ),
            |e| matches!(e, AuthError::Malformed(_)),
        ),
        ("malformed", "not-a-token".into(), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
        ("three garbage parts", "a.b.c".into(), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
        (
            "HS256 with no secret configured",
            dev::sign_hs256(dev::DEV_HS256_SECRET, &claims()),
            |e| matches!(e, AuthError::Algorithm(_)),
        ),
    ];
    for (name, token, expected) in cases {
        match verifier.verify(&token).await {
            Ok(p) => panic!("{name}: verified as {p:?}"),
            Err(e) => assert!(expected(&e), "{name}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_rsa_public_key_is_key_confusion_and_refused() {
    let public = key("rsa_public.pem");
    let verifier = verifier(JwtConfig {
        public_key_pem: Some(keys_dir().join("rsa_public.pem")),
        ..JwtConfig::default()
    });
    // The attacker knows the public key and uses it as an HMAC secret.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .expect("signs");
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::Algorithm(_))
    ));
    // The real key pair still works through the PEM file.
    let genuine = dev::sign_pem("RS256", None, &key("rsa_private.pem"), &claims()).expect("signs");
    assert_eq!(
        verifier
            .verify(&genuine)
            .await
            .expect("verifies")
            .subject
            .as_deref(),
        Some("7")
    );
}

#[tokio::test]
async fn a_jwks_file_and_the_development_secret_verify_too() {
    let verifier = verifier(JwtConfig {
        jwks_file: Some(keys_dir().join("jwks.json")),
        ..JwtConfig::default().or_development()
    });
    verifier
        .verify(&sign("EdDSA", "ed-1", &claims()))
        .await
        .expect("EdDSA from file");
    let dev = verifier
        .verify(&dev::token("3", &["admin"]))
        .await
        .expect("dev token");
    assert_eq!(dev.subject.as_deref(), Some("3"));
    assert!(
        Verifier::new(
            JwtConfig {
                hs256_secret: Some("short".into()),
                ..JwtConfig::default()
            },
            reqwest::Client::new()
        )
        .is_err()
    );
}

#[tokio::test]
async fn the_token_comes_from_the_header_or_the_cookie() {
    let config = JwtConfig {
        cookie: Some("session".into()),
        ..JwtConfig::default().or_development()
    };
    let verifier = verifier(config);
    let token = dev::token("5", &[]);
    let headers = |name: &'static str, value: String| {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(&value).expect("ascii"));
        h
    };
    let from_header = verifier
        .authenticate(&headers("authorization", format!("Bearer {token}")))
        .await;
    assert_eq!(
        from_header.expect("ok").expect("some").subject.as_deref(),
        Some("5")
    );
    let from_cookie = verifier
        .authenticate(&headers("cookie", format!("a=b; session={token}")))
        .await;
    assert_eq!(
        from_cookie.expect("ok").expect("some").subject.as_deref(),
        Some("5")
    );
    assert!(
        verifier
            .authenticate(&HeaderMap::new())
            .await
            .expect("anonymous")
            .is_none()
    );
    assert!(matches!(
        verifier
            .authenticate(&headers("authorization", format!("Basic {token}")))
            .await,
        Err(AuthError::Malformed(_))
    ));
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// A P-256 key that no JWKS lists.
fn ec_key_not_in_the_jwks() -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .expect("generates");
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n").into_bytes()
}
