//! The console's stylesheet and script, compiled into the binary and served with a
//! content hash in their URL (so they can be cached for long).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");
const JOBS_JS: &str = include_str!("../../assets/console/jobs.js");

/// FNV-1a, enough to tell versions of a file apart.
fn fnv(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

static CSS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/console/assets/console.{}.css", &fnv(CSS)[..10]));
static JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/console/assets/console.{}.js", &fnv(JS)[..10]));

static JOBS_JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/console/assets/jobs.{}.js", &fnv(JOBS_JS)[..10]));

/// URL of the job pages' script (the job form and the live monitor).
pub fn jobs_js_url() -> &'static str {
    &JOBS_JS_URL
}

/// URL of the stylesheet.
pub fn css_url() -> &'static str {
    &CSS_URL
}

/// URL of the script.
pub fn js_url() -> &'static str {
    &JS_URL
}

/// `GET /console/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let path = format!("/console/assets/{file}");
    let (body, kind) = if path == *CSS_URL {
        (CSS, "text/css; charset=utf-8")
    } else if path == *JS_URL {
        (JS, "text/javascript; charset=utf-8")
    } else if path == *JOBS_JS_URL {
        (JOBS_JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
