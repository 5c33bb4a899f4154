//! Bad input on every write endpoint that takes a JSON body (found in the OpenAPI
//! document): malformed JSON, wrong types, unknown fields, oversized bodies, no JSON
//! content type. Always a 4xx with the error body, never a 5xx.

use serde_json::Value;

use crate::helpers::{TestApp, error_code};
use crate::on_both_backends;

async fn every_write_endpoint_refuses_bad_bodies(app: &TestApp) {
    let admin = app.admin().await;
    let group = app.create_group(&admin, "bad-input").await;
    app.create_user(&admin, "target", "viewer", &[&group]).await;
    let (_, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    let mut covered = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let concrete = path.replace(
                "{id}",
                if path.contains("/groups/") {
                    &group
                } else {
                    "target"
                },
            );
            let method = method.to_uppercase();
            let big = format!(
                "{{\"name\": \"{}\"}}",
                "x".repeat(app.config.max_body_bytes + 1)
            );
            let bodies: [(&str, String, &str); 6] = [
                ("malformed", "{\"name\": ".to_owned(), "application/json"),
                ("not json", "hello".to_owned(), "application/json"),
                ("wrong types", "{\"id\": 1, \"name\": [], \"email\": false, \"role\": 7, \"password\": 3, \"current_password\": {}, \"new_password\": 1, \"user_ids\": \"x\", \"description\": 5, \"lockout_minutes\": \"ten\"}".to_owned(), "application/json"),
                ("unknown field", "{\"surprise\": true}".to_owned(), "application/json"),
                ("oversized", big, "application/json"),
                ("no content type", "{}".to_owned(), "text/plain"),
            ];
            for (what, body, content_type) in bodies {
                let method_v = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let resp = app
                    .client
                    .request(method_v, app.url(&concrete))
                    .bearer_auth(&admin)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                assert!(
                    (400..500).contains(&status),
                    "{method} {path} with {what}: {status} {text}"
                );
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path} with {what}: not JSON: {text}"));
                error_code(&v);
                if what == "oversized" {
                    assert_eq!(status, 413, "{method} {path}");
                }
            }
            covered += 1;
        }
    }
    assert!(
        covered >= 8,
        "only {covered} write endpoints with bodies found"
    );
}

on_both_backends!(every_write_endpoint_refuses_bad_bodies);
