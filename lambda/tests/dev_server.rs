//! The dev server's connection hygiene and request-size limits (`imagegen::http::serve`),
//! spoken to over a real socket on 127.0.0.1 with short timeouts, the way a client (or a
//! misbehaving one) would.

// Helpers assert by unwrapping, like the tests that call them; clippy's allow-unwrap-in-tests
// only covers `#[test]` functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use imagegen::http::serve::{self, MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URI_BYTES, ServeConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

/// Upper bound for anything that must happen: generous for a loaded CI machine, and still
/// far below "never".
const BOUND: Duration = Duration::from_secs(5);

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const IDLE_TIMEOUT: Duration = Duration::from_millis(700);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(400);

fn config() -> ServeConfig {
    ServeConfig {
        header_read_timeout: HEADER_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
        request_timeout: REQUEST_TIMEOUT,
        max_connections: 16,
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn start(config: ServeConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        .route(
            "/pause",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "paused"
            }),
        )
        .route(
            "/stuck",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "too late"
            }),
        );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve::serve(listener, router, config, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} {}",
                self.headers,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the project's error envelope, with the same id in header and body.
    fn assert_envelope(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        let id = body["error"]["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{body}");
        assert_eq!(self.header("x-request-id"), Some(id), "{self:?}");
        body
    }
}

/// Reads one response (head and a content-length body); `None` when the server closed first.
async fn read_response(stream: &mut TcpStream) -> Option<Resp> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

async fn request(stream: &mut TcpStream, raw: &str) -> Resp {
    stream.write_all(raw.as_bytes()).await.unwrap();
    timeout(BOUND, read_response(stream))
        .await
        .expect("an answer in time")
        .expect("an answer, not a closed connection")
}

fn get_request(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nhost: localhost\r\n\r\n")
}

/// Waits for the server to close the connection; true when it did (EOF or reset) in `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    matches!(
        timeout(within, stream.read(&mut chunk)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn a_normal_request_works_and_keep_alive_reuses_the_connection_within_the_idle_timeout() {
    let server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    let first = request(&mut stream, &get_request("/hello")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, b"hello");
    // Half the idle timeout later the same connection still serves.
    tokio::time::sleep(IDLE_TIMEOUT / 2).await;
    let second = request(&mut stream, &get_request("/peer")).await;
    assert_eq!(second.status, 200);
    // Handlers still see the peer (the rate limiter keys on it).
    assert_eq!(second.body, b"127.0.0.1");
}

#[tokio::test]
async fn a_client_trickling_its_headers_gets_408_and_is_cut_off_after_the_header_timeout() {
    let server = start(config()).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // A header line every 50 ms, never the blank line that ends the head.
    let trickler = tokio::spawn(async move {
        if writer.write_all(b"GET /hello HTTP/1.1\r\n").await.is_err() {
            return;
        }
        for i in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let line = format!("x-trickle-{i}: 1\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = timeout(BOUND, reader.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    trickler.abort();
    assert!(read.is_ok(), "still open after {BOUND:?}");
    assert!(
        elapsed >= HEADER_TIMEOUT,
        "cut off after {elapsed:?}, before the header timeout"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    let id = body["error"]["request_id"].as_str().unwrap();
    assert!(head.contains(&format!("x-request-id: {id}")), "{head}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let res = request(&mut stream, &get_request("/hello")).await;
    assert_eq!(res.status, 200);
    let answered = Instant::now();
    assert!(
        closed_within(&mut stream, BOUND).await,
        "still open after {BOUND:?}"
    );
    let idle = answered.elapsed();
    assert!(
        idle >= IDLE_TIMEOUT * 9 / 10,
        "closed after {idle:?} of idleness"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = start(config()).await;
    let connected = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut answer = Vec::new();
    let read = timeout(BOUND, stream.read_to_end(&mut answer)).await;
    let silent = connected.elapsed();
    assert!(read.is_ok(), "still open after {BOUND:?}");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(silent >= IDLE_TIMEOUT * 9 / 10, "closed after {silent:?}");
}

#[tokio::test]
async fn connections_beyond_the_bound_wait_until_one_closes() {
    let server = start(ServeConfig {
        max_connections: 2,
        idle_timeout: Duration::from_secs(30),
        ..config()
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(
        request(&mut first, &get_request("/hello")).await.status,
        200
    );
    assert_eq!(
        request(&mut second, &get_request("/hello")).await.status,
        200
    );

    // The third connects (the kernel's backlog) but is not served while both slots are taken.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(get_request("/hello").as_bytes())
        .await
        .unwrap();
    let early = timeout(Duration::from_millis(500), read_response(&mut third)).await;
    assert!(early.is_err(), "served beyond the bound: {early:?}");

    drop(first);
    let res = timeout(BOUND, read_response(&mut third))
        .await
        .expect("served once a slot is free")
        .expect("an answer");
    assert_eq!(res.status, 200);
    assert_eq!(res.body, b"hello");
}

#[tokio::test]
async fn a_too_long_uri_gets_414_with_the_error_envelope() {
    let server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    // Exactly at the limit: served.
    let at_limit = format!("/hello?q={}", "a".repeat(MAX_URI_BYTES - "/hello?q=".len()));
    assert_eq!(
        request(&mut stream, &get_request(&at_limit)).await.status,
        200
    );

    let over = format!("{at_limit}a");
    let res = request(&mut stream, &get_request(&over)).await;
    res.assert_envelope(414, "uri_too_long");

    // Far over ours, still under hyper's cap: our envelope, not hyper's bare answer; a plain
    // caller id is kept.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let far_over = format!("/hello?q={}", "a".repeat(40 * 1024));
    let raw =
        format!("GET {far_over} HTTP/1.1\r\nhost: localhost\r\nx-request-id: trace-414\r\n\r\n");
    let res = request(&mut stream, &raw).await;
    let body = res.assert_envelope(414, "uri_too_long");
    assert_eq!(body["error"]["request_id"], "trace-414");
}

#[tokio::test]
async fn oversized_headers_get_431_with_the_error_envelope() {
    let server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    let big = format!(
        "GET /hello HTTP/1.1\r\nhost: localhost\r\nx-big: {}\r\n\r\n",
        "b".repeat(MAX_HEADER_BYTES)
    );
    request(&mut stream, &big)
        .await
        .assert_envelope(431, "headers_too_large");

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let many: String = (0..MAX_HEADER_COUNT + 50)
        .map(|i| format!("x-h{i}: 1\r\n"))
        .collect();
    let raw = format!("GET /hello HTTP/1.1\r\nhost: localhost\r\n{many}\r\n");
    request(&mut stream, &raw)
        .await
        .assert_envelope(431, "headers_too_large");

    // Within both limits: served.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let fine = format!(
        "GET /hello HTTP/1.1\r\nhost: localhost\r\nx-big: {}\r\n\r\n",
        "b".repeat(MAX_HEADER_BYTES / 2)
    );
    assert_eq!(request(&mut stream, &fine).await.status, 200);
}

#[tokio::test]
async fn a_request_not_answered_in_time_gets_408_with_the_error_envelope() {
    let server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let res = request(&mut stream, &get_request("/stuck")).await;
    let elapsed = started.elapsed();
    res.assert_envelope(408, "request_timeout");
    assert!(elapsed >= REQUEST_TIMEOUT, "answered after {elapsed:?}");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_stops_accepting() {
    let mut server = start(config()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(get_request("/pause").as_bytes())
        .await
        .unwrap();
    // Shut down while /pause is being handled.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = server.stop.take().unwrap().send(());

    let res = timeout(BOUND, read_response(&mut stream))
        .await
        .expect("an answer in time")
        .expect("the request in flight is answered");
    assert_eq!(res.status, 200);
    assert_eq!(res.body, b"paused");
    assert!(
        closed_within(&mut stream, BOUND).await,
        "kept alive after shutdown"
    );
    timeout(BOUND, server.task)
        .await
        .expect("serve returns once its connections are done")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting"
    );
}

// ---------------------------------------------------------------------------------------------
// The dev composition reads its settings through the Lambdas' configuration path.

mod composition {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use imagegen::config::{self, Config, ConfigError, Vars};
    use imagegen::dev::DevServer;
    use imagegen::gemini::{GenerateError, ImageRequest};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// A value other than the default for every setting the dev server shares with the
    /// Lambdas. A setting added to `Config` or `gemini_config` without a line here fails
    /// `every_shared_setting_changes_the_dev_composition_as_it_changes_the_lambdas`.
    const CHANGED: &[(&str, &str)] = &[
        ("IMAGEGEN_ENV", "staging"),
        ("IMAGEGEN_DEFAULT_RATE_PER_MINUTE", "7"),
        ("IMAGEGEN_DEFAULT_BURST", "3"),
        ("IMAGEGEN_DEFAULT_DAILY_QUOTA", "11"),
        ("IMAGEGEN_DEFAULT_MONTHLY_QUOTA", "13"),
        ("IMAGEGEN_IP_RATE_PER_MINUTE", "17"),
        ("IMAGEGEN_GLOBAL_RATE_PER_MINUTE", "19"),
        ("IMAGEGEN_GLOBAL_DAILY_IMAGES", "23"),
        ("IMAGEGEN_URL_TTL_SECONDS", "60"),
        ("IMAGEGEN_UPLOAD_MAX_BYTES", "2048"),
        ("IMAGEGEN_MAX_BODY_BYTES", "4096"),
        ("IMAGEGEN_KEY_ROTATION_GRACE_SECONDS", "30"),
        ("IMAGEGEN_JOB_RETENTION_DAYS", "2"),
        ("IMAGEGEN_REFERENCE_LONGEST_SIDE", "512"),
        ("IMAGEGEN_MAX_RECEIVE_COUNT", "5"),
        ("IMAGEGEN_WORKER_LEASE_SECONDS", "120"),
        ("IMAGEGEN_QUEUE_VISIBILITY_SECONDS", "720"),
        ("IMAGEGEN_METRICS_NAMESPACE", "Other"),
        ("IMAGEGEN_GEMINI_MODEL", "gemini-3-pro-image-preview"),
        ("IMAGEGEN_GEMINI_BASE_URL", "http://127.0.0.1:9"),
        ("IMAGEGEN_GEMINI_TIMEOUT_SECONDS", "7"),
        ("IMAGEGEN_GEMINI_MAX_ATTEMPTS", "1"),
    ];

    /// The dev server's admin credential is `IMAGEGEN_ADMIN_KEY` (it prints a made-up one when
    /// unset), which replaces the Lambdas' digest of one.
    const NOT_SHARED: &[&str] = &["IMAGEGEN_ADMIN_KEY_SHA256"];
    const ADMIN_KEY: &str = "dev-admin-key-of-at-least-thirty-two-chars";

    fn compose(pairs: &[(&str, &str)]) -> Result<DevServer, ConfigError> {
        let vars = Vars(|name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        let dir = tempfile::TempDir::with_prefix("imagegen-dev-composition-").unwrap();
        DevServer::compose(&vars, dir.path(), "http://127.0.0.1:1")
    }

    /// Every variable the Lambdas' settings code asks for (the ones the dev server shares).
    fn shared_reads() -> BTreeSet<String> {
        let seen = RefCell::new(BTreeSet::new());
        let vars = Vars(|name: &str| {
            seen.borrow_mut().insert(name.to_owned());
            None
        });
        Config::from_vars(&vars).unwrap();
        config::gemini_config(&vars).unwrap();
        seen.into_inner()
    }

    #[test]
    fn every_shared_setting_changes_the_dev_composition_as_it_changes_the_lambdas() {
        let changed: BTreeMap<&str, &str> = CHANGED.iter().copied().collect();
        let missing: Vec<_> = shared_reads()
            .into_iter()
            .filter(|var| {
                !changed.contains_key(var.as_str()) && !NOT_SHARED.contains(&var.as_str())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "add these to CHANGED (a value other than the default): {missing:?}"
        );
        let base = [("GEMINI_API_KEY", "k"), ("IMAGEGEN_ADMIN_KEY", ADMIN_KEY)];
        let plain = compose(&base).unwrap();
        for (var, value) in CHANGED {
            let mut pairs = base.to_vec();
            pairs.push((var, value));
            let dev = compose(&pairs).unwrap();
            let lookup = Vars(|name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            });
            let mut lambda_config = Config::from_vars(&lookup).unwrap();
            lambda_config.admin_key_sha256 = dev.app.config.admin_key_sha256.clone();
            // The dev server's own choice (receivers on this machine), never a variable.
            assert!(dev.app.config.webhooks_to_loopback);
            lambda_config.webhooks_to_loopback = true;
            let lambda_gemini = config::gemini_config(&lookup).unwrap();
            assert_eq!(*dev.app.config, lambda_config, "{var}");
            assert_eq!(dev.gemini.as_ref(), Some(&lambda_gemini), "{var}");
            assert!(
                *dev.app.config != *plain.app.config || dev.gemini != plain.gemini,
                "{var}={value} changed nothing in the dev composition"
            );
        }
    }

    #[test]
    fn a_bad_shared_setting_stops_the_dev_server_with_its_name() {
        for var in [
            "IMAGEGEN_GEMINI_TIMEOUT_SECONDS",
            "IMAGEGEN_MAX_RECEIVE_COUNT",
        ] {
            let err = compose(&[("GEMINI_API_KEY", "k"), (var, "0")])
                .err()
                .unwrap();
            assert_eq!(err.var, var);
        }
        // A model call that would not fit in a worker invocation, as the worker refuses it.
        let err = compose(&[
            ("IMAGEGEN_WORKER_LEASE_SECONDS", "60"),
            ("IMAGEGEN_GEMINI_TIMEOUT_SECONDS", "50"),
        ])
        .err()
        .unwrap();
        assert_eq!(err.var, "IMAGEGEN_GEMINI_TIMEOUT_SECONDS");
        assert!(err.problem.contains("45 s"), "{}", err.problem);
        assert!(
            compose(&[
                ("IMAGEGEN_WORKER_LEASE_SECONDS", "60"),
                ("IMAGEGEN_GEMINI_TIMEOUT_SECONDS", "45"),
            ])
            .is_ok()
        );
    }

    fn request() -> ImageRequest {
        ImageRequest {
            prompt: "a lighthouse".into(),
            reference_images: Vec::new(),
            aspect_ratio: None,
            count: 1,
            image_size: None,
        }
    }

    #[tokio::test]
    async fn the_gemini_timeout_and_attempt_budget_govern_the_dev_servers_model_calls() {
        let slow = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(4)))
            .mount(&slow)
            .await;
        let dev = compose(&[
            ("GEMINI_API_KEY", "k"),
            ("IMAGEGEN_GEMINI_BASE_URL", &slow.uri()),
            ("IMAGEGEN_GEMINI_TIMEOUT_SECONDS", "1"),
            ("IMAGEGEN_GEMINI_MAX_ATTEMPTS", "1"),
        ])
        .unwrap();
        let started = std::time::Instant::now();
        let err = dev
            .generator
            .generate(&request(), dev.image_attempts)
            .await
            .unwrap_err();
        assert!(
            matches!(err, GenerateError::Timeout { attempts: 1 }),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );

        let failing = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&failing)
            .await;
        let dev = compose(&[
            ("GEMINI_API_KEY", "k"),
            ("IMAGEGEN_GEMINI_BASE_URL", &failing.uri()),
            ("IMAGEGEN_GEMINI_MAX_ATTEMPTS", "1"),
        ])
        .unwrap();
        let err = dev
            .generator
            .generate(&request(), dev.image_attempts)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "upstream_error");
        assert_eq!(failing.received_requests().await.unwrap().len(), 1);
    }
}
