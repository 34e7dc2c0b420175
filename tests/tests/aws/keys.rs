//! Keys made over HTTP work behind API Gateway: the api function, composed from its
//! environment with the REST API's id, registers a created or rotated key on the API's usage
//! plan and deletes its gateway keys when the key is revoked (the same use case `cargo xtask keys`
//! runs, tested from the command line in `xtask/tests/keys.rs`).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use imagegen::config::Vars;
use imagegen::domain::keys::{parse_presented, sha256_hex};
use imagegen_tests::aws::{TestEnv, rest_api_with_plan, route};
use serde_json::json;

/// Every gateway key with `name`: (value, attached to `plan_id`).
async fn gateway_keys(
    apigw: &aws_sdk_apigateway::Client,
    name: &str,
    plan_id: &str,
) -> Vec<(String, bool)> {
    let on_plan: Vec<String> = apigw
        .get_usage_plan_keys()
        .usage_plan_id(plan_id)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|k| k.id().map(str::to_owned))
        .collect();
    apigw
        .get_api_keys()
        .include_values(true)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter(|k| k.name() == Some(name))
        .map(|k| {
            let id = k.id().unwrap_or_default().to_owned();
            (
                k.value().unwrap_or_default().to_owned(),
                on_plan.contains(&id),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_key_created_or_rotated_over_http_is_on_the_usage_plan_until_it_is_revoked() {
    let env = TestEnv::new().await.unwrap();
    let apigw = aws_sdk_apigateway::Client::new(&env.sdk);
    let (rest_api_id, plan_id) = rest_api_with_plan(&apigw, &env.resources.bucket)
        .await
        .unwrap();
    let admin = "igadmin-integration-bootstrap-credential";
    let mut vars = env.lambda_vars();
    vars.insert("IMAGEGEN_ENV", "staging".to_owned());
    vars.insert("IMAGEGEN_REST_API_ID", rest_api_id);
    vars.insert("IMAGEGEN_ADMIN_KEY_SHA256", sha256_hex(admin));
    let app = imagegen::aws::api_from_vars(&Vars(|name| vars.get(name).cloned())).unwrap();
    let request = |method: Method, uri: &str, body: Option<serde_json::Value>| {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-api-key", admin)
            .header("content-type", "application/json");
        builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap()
    };

    let created = route(
        &app,
        request(
            Method::POST,
            "/v1/admin/keys",
            Some(json!({"tenant": "acme", "scopes": ["jobs:read"]})),
        ),
    )
    .await
    .unwrap();
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let key = created.json["key"].as_str().unwrap().to_owned();
    let (key_id, _) = parse_presented(&key).unwrap();
    let name = format!("imagegen-staging-{key_id}");
    assert_eq!(
        gateway_keys(&apigw, &name, &plan_id).await,
        [(key.clone(), true)]
    );

    // The new secret goes on the plan the old one is on; the old one stays for the grace.
    let rotated = route(
        &app,
        request(
            Method::POST,
            &format!("/v1/admin/keys/{key_id}/rotate"),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let next = rotated.json["key"].as_str().unwrap().to_owned();
    let mut both = gateway_keys(&apigw, &name, &plan_id).await;
    both.sort();
    let mut expected = vec![(key.clone(), true), (next, true)];
    expected.sort();
    assert_eq!(both, expected);

    let revoked = route(
        &app,
        request(Method::DELETE, &format!("/v1/admin/keys/{key_id}"), None),
    )
    .await
    .unwrap();
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
    assert!(gateway_keys(&apigw, &name, &plan_id).await.is_empty());
}
