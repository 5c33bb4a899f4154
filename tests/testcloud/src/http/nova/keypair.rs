//! `os-keypairs`: import a public key, or have one generated (`ssh-keygen`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::keypair_view;
use crate::http::auth::Auth;
use crate::http::layers::Mv;
use crate::http::query::Params;
use crate::http::{ApiError, App, member, opt_str, parse_body};
use crate::model::CloudError;
use crate::model::compute::Keypair;

/// The MD5 fingerprint Nova shows (`aa:bb:...`) of an OpenSSH public key line.
pub fn fingerprint(public_key: &str) -> Result<String, CloudError> {
    let blob = public_key
        .split_whitespace()
        .nth(1)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| {
            CloudError::bad("Keypair data is invalid: failed to generate fingerprint")
        })?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

async fn generate() -> Result<(String, String), ApiError> {
    let dir = tempfile_dir()?;
    let key = dir.join("id");
    let out = tokio::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "Generated-by-Nova",
            "-f",
        ])
        .arg(&key)
        .output()
        .await
        .map_err(|e| {
            CloudError::bad(format!(
                "Keypair generation is unavailable (ssh-keygen: {e}); import a public key instead."
            ))
        })?;
    if !out.status.success() {
        return Err(
            CloudError::bad("Keypair generation failed; import a public key instead.").into(),
        );
    }
    let private = tokio::fs::read_to_string(&key).await.unwrap_or_default();
    let public = tokio::fs::read_to_string(key.with_extension("pub"))
        .await
        .unwrap_or_default();
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok((private, public.trim().to_owned()))
}

fn tempfile_dir() -> Result<std::path::PathBuf, ApiError> {
    let dir = std::env::temp_dir().join(format!("testcloud-keygen-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| CloudError::bad(format!("Keypair generation failed: {e}")))?;
    Ok(dir)
}

pub(super) async fn create(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let k = member(&body, "keypair")?;
    let name = opt_str(k, "name")?.ok_or_else(|| {
        CloudError::bad(
            "Invalid input for field/attribute keypair. Value: 'name' is a required property",
        )
    })?;
    let key_type = opt_str(k, "type")?.unwrap_or_else(|| "ssh".into());
    if key_type != "ssh" && key_type != "x509" {
        return Err(CloudError::bad(format!(
            "Invalid input for field/attribute type. Value: {key_type}."
        ))
        .into());
    }
    let user_id = match opt_str(k, "user_id")? {
        Some(u) if auth.is_admin => u,
        _ => auth.user_id.clone(),
    };
    let (private, public) = match opt_str(k, "public_key")? {
        Some(p) => (None, p.trim().to_owned()),
        None if mv >= 92 => {
            return Err(CloudError::bad(
                "Keypair generation is not supported at microversion 2.92 and later.",
            )
            .into());
        }
        None => {
            let (pr, pu) = generate().await?;
            (Some(pr), pu)
        }
    };
    let fp = fingerprint(&public)?;
    let kp = Keypair {
        name,
        user_id,
        public_key: public,
        fingerprint: fp,
        key_type,
        created_at: crate::time::now(),
    };
    let kp = app.engine.apply(|c| c.compute.create_keypair(kp))?;
    let mut v = keypair_view(&kp, mv, false);
    v["user_id"] = json!(kp.user_id);
    if let Some(p) = private {
        v["private_key"] = json!(p);
    }
    let status = if mv >= 2 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({"keypair": v}))).into_response())
}

pub(super) async fn list(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
) -> Json<Value> {
    let user = q
        .get("user_id")
        .filter(|_| auth.is_admin)
        .cloned()
        .unwrap_or(auth.user_id.clone());
    let list: Vec<Value> = app.engine.read(|c| {
        c.compute
            .keypairs
            .values()
            .filter(|k| k.user_id == user)
            .map(|k| json!({"keypair": keypair_view(k, mv, false)}))
            .collect()
    });
    Json(json!({"keypairs": list}))
}

pub(super) async fn show(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let user = q
        .get("user_id")
        .filter(|_| auth.is_admin)
        .cloned()
        .unwrap_or(auth.user_id.clone());
    let k = app
        .engine
        .read(|c| {
            c.compute
                .keypairs
                .get(&(user.clone(), name.clone()))
                .cloned()
        })
        .ok_or_else(|| CloudError::not_found("Keypair", name.clone()))?;
    Ok(Json(json!({"keypair": keypair_view(&k, mv, true)})))
}

pub(super) async fn delete(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let user = q
        .get("user_id")
        .filter(|_| auth.is_admin)
        .cloned()
        .unwrap_or(auth.user_id.clone());
    app.engine
        .apply(|c| c.compute.delete_keypair(&user, &name))?;
    Ok(if mv >= 2 {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_openssh_key() {
        // md5 of the bytes "abc" (base64 YWJj) is 900150983cd24fb0d6963f7d28e17f72.
        assert_eq!(
            fingerprint("ssh-ed25519 YWJj comment").unwrap(),
            "90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72"
        );
        assert!(fingerprint("garbage").is_err());
    }
}
