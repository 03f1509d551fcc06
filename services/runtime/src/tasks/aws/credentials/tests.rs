use super::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use std::sync::Arc;

fn env(vars: &[(&str, &str)], home: Option<&Path>) -> Env {
    Env {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        home: home.map(Path::to_path_buf),
    }
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn later() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(3600))
        .to_rfc3339()
}

#[tokio::test]
async fn the_environment_comes_first() {
    let source = Source::resolve(
        &env(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_SESSION_TOKEN", "env-token"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nope"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ],
            None,
        ),
        None,
        "http://sts",
    );
    let credentials = Provider::new(source).unwrap().get().await.unwrap();
    assert_eq!(credentials.access_key_id, "AKIDENV");
    assert_eq!(credentials.secret_access_key.expose(), "env-secret");
    assert_eq!(credentials.session_token.unwrap().expose(), "env-token");
    // Never printed.
    let printed = format!(
        "{:?}",
        Source::resolve(
            &env(
                &[
                    ("AWS_ACCESS_KEY_ID", "A"),
                    ("AWS_SECRET_ACCESS_KEY", "hidden-value")
                ],
                None
            ),
            None,
            ""
        )
    );
    assert!(!printed.contains("hidden-value"), "{printed}");
}

#[tokio::test]
async fn profiles_from_the_shared_files() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n\
         # a comment\n[work]\naws_access_key_id=AKIDWORK\naws_secret_access_key = w\naws_session_token = t\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        "[default]\nregion = eu-north-1\n[profile work]\nregion = ap-south-1\n",
    )
    .unwrap();
    let get = |vars: &[(&str, &str)], profile: Option<&str>| {
        let env = env(vars, Some(home.path()));
        match Source::resolve(&env, profile, "") {
            Source::Static(c, "profile") => (c.access_key_id, region(&env, None, profile)),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        get(&[], None),
        ("AKIDDEFAULT".into(), Some("eu-north-1".into()))
    );
    assert_eq!(
        get(&[("AWS_PROFILE", "work")], None),
        ("AKIDWORK".into(), Some("ap-south-1".into()))
    );
    // The configured profile wins over AWS_PROFILE; AWS_REGION over the profile's region.
    assert_eq!(
        get(
            &[("AWS_PROFILE", "nope"), ("AWS_REGION", "us-west-2")],
            Some("work")
        ),
        ("AKIDWORK".into(), Some("us-west-2".into()))
    );
    // AWS_SHARED_CREDENTIALS_FILE moves the file.
    let elsewhere = home.path().join("creds");
    std::fs::write(
        &elsewhere,
        "[default]\naws_access_key_id = AKIDMOVED\naws_secret_access_key = m\n",
    )
    .unwrap();
    let moved = elsewhere.to_str().unwrap();
    assert_eq!(
        get(&[("AWS_SHARED_CREDENTIALS_FILE", moved)], None).0,
        "AKIDMOVED"
    );
    // A profile without keys falls through the chain (here: to instance metadata).
    let env = env(&[("AWS_PROFILE", "absent")], Some(home.path()));
    assert!(matches!(
        Source::resolve(&env, None, ""),
        Source::Imds { .. }
    ));
}

#[derive(Clone, Default)]
struct Calls(Arc<std::sync::Mutex<Vec<String>>>);

async fn container(State(calls): State<Calls>, headers: HeaderMap) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    calls.0.lock().unwrap().push(auth.clone());
    if auth != "container-token" {
        return (StatusCode::UNAUTHORIZED, "token was wrong: echo".to_owned());
    }
    (
        StatusCode::OK,
        serde_json::json!({"AccessKeyId": "AKIDCONTAINER", "SecretAccessKey": "c",
            "Token": "ct", "Expiration": later()})
        .to_string(),
    )
}

#[tokio::test]
async fn container_credentials_with_a_token_cached_until_expiry() {
    let calls = Calls::default();
    let base = serve(
        axum::Router::new()
            .route("/creds", get(container))
            .with_state(calls.clone()),
    )
    .await;
    let url = format!("{base}/creds");
    let source = Source::resolve(
        &env(
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token"),
            ],
            None,
        ),
        None,
        "",
    );
    let provider = Provider::new(source).unwrap();
    let first = provider.get().await.unwrap();
    assert_eq!(first.access_key_id, "AKIDCONTAINER");
    assert_eq!(first.session_token.unwrap().expose(), "ct");
    assert!(first.expires.is_some());
    provider.get().await.unwrap();
    assert_eq!(calls.0.lock().unwrap().len(), 1, "cached until near expiry");

    // The token from a file (EKS Pod Identity); a wrong one is an error naming the status.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "wrong\n").unwrap();
    let source = Source::resolve(
        &env(
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    file.to_str().unwrap(),
                ),
            ],
            None,
        ),
        None,
        "",
    );
    let error = Provider::new(source).unwrap().get().await.unwrap_err();
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(!error.contains("echo"), "the body is not repeated: {error}");
    assert_eq!(calls.0.lock().unwrap().last().unwrap(), "wrong");
}

#[test]
fn container_uris_that_would_leak_a_token_are_refused() {
    let refused = Source::resolve(
        &env(
            &[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://example.com/creds",
            )],
            None,
        ),
        None,
        "",
    );
    assert!(
        matches!(refused, Source::Missing(ref why) if why.contains("example.com")),
        "{refused:?}"
    );
    let relative = Source::resolve(
        &env(
            &[(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x",
            )],
            None,
        ),
        None,
        "",
    );
    assert!(
        matches!(relative, Source::Container { ref url, .. } if url == "http://169.254.170.2/v2/credentials/x"),
        "{relative:?}"
    );
    for allowed in [
        "https://example.com/c",
        "http://169.254.170.23/v1/credentials",
        "http://[::1]:9/c",
    ] {
        let source = Source::resolve(
            &env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed)], None),
            None,
            "",
        );
        assert!(
            matches!(source, Source::Container { .. }),
            "{allowed}: {source:?}"
        );
    }
}

async fn imds_token() -> impl IntoResponse {
    "imds-token"
}

async fn imds_role(headers: HeaderMap) -> impl IntoResponse {
    if headers
        .get("x-aws-ec2-metadata-token")
        .map(|v| v.as_bytes())
        != Some(b"imds-token")
    {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    (StatusCode::OK, "node-role\n".to_owned())
}

async fn imds_credentials(headers: HeaderMap) -> impl IntoResponse {
    if headers
        .get("x-aws-ec2-metadata-token")
        .map(|v| v.as_bytes())
        != Some(b"imds-token")
    {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    (
        StatusCode::OK,
        serde_json::json!({"Code": "Success", "AccessKeyId": "AKIDIMDS",
            "SecretAccessKey": "i", "Token": "it", "Expiration": later()})
        .to_string(),
    )
}

#[tokio::test]
async fn instance_metadata_v2() {
    let base = serve(
        axum::Router::new()
            .route("/latest/api/token", put(imds_token))
            .route(
                "/latest/meta-data/iam/security-credentials/",
                get(imds_role),
            )
            .route(
                "/latest/meta-data/iam/security-credentials/node-role",
                get(imds_credentials),
            ),
    )
    .await;
    let source = Source::resolve(
        &env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &base)], None),
        None,
        "",
    );
    let credentials = Provider::new(source).unwrap().get().await.unwrap();
    assert_eq!(credentials.access_key_id, "AKIDIMDS");
    assert_eq!(credentials.session_token.unwrap().expose(), "it");

    let disabled = Source::resolve(
        &env(&[("AWS_EC2_METADATA_DISABLED", "true")], None),
        None,
        "",
    );
    let error = Provider::new(disabled).unwrap().get().await.unwrap_err();
    assert!(error.contains("instance metadata is disabled"), "{error}");
}

async fn sts(body: String) -> impl IntoResponse {
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let expected = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", "arn:aws:iam::123456789012:role/quickstep"),
        ("RoleSessionName", "quickstep"),
        ("WebIdentityToken", "k8s-jwt"),
    ];
    if expected
        .iter()
        .any(|(k, v)| form.get(*k).map(String::as_str) != Some(*v))
    {
        return (StatusCode::FORBIDDEN, format!("{form:?}"));
    }
    (
        StatusCode::OK,
        format!(
            "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
             <AccessKeyId>ASIAWEB</AccessKeyId><SecretAccessKey>w</SecretAccessKey>\
             <SessionToken>wt</SessionToken><Expiration>{}</Expiration></Credentials>\
             </AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
            later()
        ),
    )
}

#[tokio::test]
async fn web_identity_through_sts() {
    let base = serve(axum::Router::new().route("/", post(sts))).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "k8s-jwt\n").unwrap();
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/quickstep"),
    ];
    let source = Source::resolve(&env(&vars, None), None, &base);
    let credentials = Provider::new(source).unwrap().get().await.unwrap();
    assert_eq!(credentials.access_key_id, "ASIAWEB");
    assert_eq!(credentials.session_token.unwrap().expose(), "wt");

    std::fs::remove_file(&token).unwrap();
    let source = Source::resolve(&env(&vars, None), None, &base);
    let error = Provider::new(source).unwrap().get().await.unwrap_err();
    assert!(error.contains("web identity token file"), "{error}");
}

#[test]
fn regions_in_order() {
    let e = env(&[("AWS_DEFAULT_REGION", "eu-west-3")], None);
    assert_eq!(region(&e, None, None).as_deref(), Some("eu-west-3"));
    assert_eq!(
        region(&e, Some("sa-east-1"), None).as_deref(),
        Some("sa-east-1")
    );
    let e = env(
        &[
            ("AWS_DEFAULT_REGION", "eu-west-3"),
            ("AWS_REGION", "us-east-2"),
        ],
        None,
    );
    assert_eq!(region(&e, None, None).as_deref(), Some("us-east-2"));
    assert_eq!(region(&env(&[], None), None, None), None);
}
