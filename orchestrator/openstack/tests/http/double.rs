//! A loopback HTTP server answering queued, recorded responses, and logging requests.
//! It runs on its own thread and runtime so that tests may pause their own clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use holdfast_openstack::{Credentials, Options, Password, RetryPolicy};
use serde_json::{Value, json};

/// One canned answer.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    /// Never answer (for timeouts).
    pub(crate) hang: bool,
}

impl Canned {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            hang: false,
        }
    }

    pub(crate) fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            hang: false,
        }
    }

    pub(crate) fn hang() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
            hang: true,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A request the double received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Shared {
    base: String,
    routes: Mutex<HashMap<(String, String), VecDeque<Canned>>>,
    log: Mutex<Vec<Seen>>,
    tokens: AtomicU32,
    roles: Mutex<Vec<&'static str>>,
    token_lifetime: Mutex<Option<jiff::SignedDuration>>,
}

pub(crate) struct Double {
    pub(crate) base: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) const PROJECT: &str = "p-1";

impl Double {
    pub(crate) fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let shared = Arc::new(Shared {
            base: base.clone(),
            roles: Mutex::new(vec!["admin", "member"]),
            ..Shared::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(handle).with_state(state);
                // Not a graceful shutdown: a hanging handler must not keep the test alive.
                tokio::select! {
                    served = axum::serve(listener, app) => served.expect("serve"),
                    _ = stopped => {}
                }
            });
        });
        Self {
            base,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Queues answers for `method path`; the last one repeats.
    pub(crate) fn on(&self, method: &str, path: &str, answers: Vec<Canned>) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert((method.to_owned(), path.to_owned()), answers.into());
    }

    pub(crate) fn set_roles(&self, roles: Vec<&'static str>) {
        *self.shared.roles.lock().unwrap() = roles;
    }

    pub(crate) fn set_token_lifetime(&self, lifetime: jiff::SignedDuration) {
        *self.shared.token_lifetime.lock().unwrap() = Some(lifetime);
    }

    pub(crate) fn log(&self) -> Vec<Seen> {
        self.shared.log.lock().unwrap().clone()
    }

    pub(crate) fn requests(&self, method: &str, path: &str) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect()
    }

    pub(crate) fn credentials(&self) -> Credentials {
        Credentials {
            auth_url: format!("{}/identity", self.base),
            username: "admin".into(),
            password: Password::new("secret"),
            user_domain: "Default".into(),
            project: "admin".into(),
            project_domain: "Default".into(),
        }
    }

    /// Options for tests: no HTTP timers at all (a paused clock would fire them while a
    /// request waits for the server on another thread), fast retries, pages of 2.
    pub(crate) fn options() -> Options {
        Options {
            request_timeout: None,
            connect_timeout: None,
            pool_idle_timeout: None,
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
            },
            page_size: 2,
            ..Options::default()
        }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn token_body(base: &str, roles: &[&str], expires_at: jiff::Timestamp) -> Value {
    json!({"token": {
        "methods": ["password"],
        "expires_at": expires_at.to_string(),
        "issued_at": jiff::Timestamp::now().to_string(),
        "user": {"id": "u-1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": PROJECT, "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "roles": roles.iter().enumerate().map(|(i, r)| json!({"id": format!("r-{i}"), "name": r})).collect::<Vec<_>>(),
        "catalog": [
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{base}/identity")}]},
            {"type": "compute", "name": "nova", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": format!("{base}/compute/v2.1")}]},
            {"type": "volumev3", "name": "cinderv3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": format!("{base}/volume/v3/{PROJECT}")}]},
            {"type": "network", "name": "neutron", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": format!("{base}/network")}]}
        ]
    }})
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = req.headers().clone();
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    shared.log.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let canned = {
        let mut routes = shared.routes.lock().unwrap();
        routes
            .get_mut(&(method.to_string(), path.clone()))
            .map(|q| {
                if q.len() > 1 {
                    q.pop_front().unwrap()
                } else {
                    q.front().cloned().unwrap()
                }
            })
    };
    let canned = match canned {
        Some(c) => c,
        None => default_answer(&shared, &method, &path),
    };
    if canned.hang {
        std::future::pending::<()>().await;
    }
    let mut resp = Response::builder().status(StatusCode::from_u16(canned.status).unwrap());
    resp = resp.header("content-type", "application/json");
    for (k, v) in &canned.headers {
        resp = resp.header(*k, v.as_str());
    }
    resp.body(Body::from(canned.body)).unwrap()
}

/// Keystone tokens and the version documents, unless a test queued something else.
fn default_answer(shared: &Shared, method: &Method, path: &str) -> Canned {
    match (method.as_str(), path) {
        ("POST", "/identity/v3/auth/tokens") => {
            let n = shared.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            let lifetime = shared
                .token_lifetime
                .lock()
                .unwrap()
                .unwrap_or(jiff::SignedDuration::from_hours(1));
            let expires = jiff::Timestamp::now().checked_add(lifetime).unwrap();
            let roles = shared.roles.lock().unwrap().clone();
            Canned::json(201, token_body(&shared.base, &roles, expires))
                .header("x-subject-token", &format!("tok-{n}"))
                .header("x-openstack-request-id", &format!("req-token-{n}"))
        }
        ("GET", "/compute/v2.1") => Canned::json(
            200,
            json!({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.60", "min_version": "2.1"}}),
        ),
        ("GET", "/volume/v3") => Canned::json(
            200,
            json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.60", "min_version": "3.0"}]}),
        ),
        _ => Canned::json(
            404,
            json!({"itemNotFound": {"code": 404, "message": "The resource could not be found."}}),
        ),
    }
}
