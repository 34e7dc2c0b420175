//! Serving the router on a socket (the dev server), with the connection hygiene `axum::serve`
//! lacks, and the request-size limits every deployment shares.
//!
//! `axum::serve` sets no timeouts: a client trickling its headers, or a silent or idle
//! keep-alive connection, held a connection forever. [`serve`] drives each connection with
//! hyper's HTTP/1 API and a per-connection watchdog instead:
//!
//! - a request head not complete [`HEADER_READ_TIMEOUT`] after its first byte gets a 408
//!   envelope and the connection is closed;
//! - a connection with no request for [`IDLE_TIMEOUT`] (a fresh one that says nothing, or a
//!   kept-alive one between requests) is closed; so is one whose response makes no progress
//!   for as long (a client that stopped reading);
//! - a request not answered within [`REQUEST_TIMEOUT`] (a body trickled in, say) gets a 408;
//! - at most [`MAX_CONNECTIONS`] connections are served at once; further ones wait in the
//!   listen backlog, unaccepted, until one ends (the timeouts above bound how long).
//!
//! [`with_request_limits`] answers 414 and 431 with the JSON error envelope. hyper's own caps
//! are set above ours ([`HYPER_MAX_HEAD_BYTES`], [`HYPER_MAX_HEADERS`]), so only a head beyond
//! them gets hyper's bare 431.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::error::{ApiError, ErrorCode};
use super::request_id::{self, REQUEST_ID_HEADER};

/// Longest request target (path and query) we accept; longer gets 414 `uri_too_long`. 8 KiB is
/// what common proxies allow, and far above any URL of the API.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest sum of header lines (name, value, `: ` and CRLF) we accept; larger gets 431
/// `headers_too_large`. API Gateway stops at 10 KiB, so Lambda never gets this far.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields we accept; more gets 431 `headers_too_large` (hyper's own default).
pub const MAX_HEADER_COUNT: usize = 100;
/// hyper's cap on a request head (request line and headers), above what ours let through
/// (URI + headers + framing is under 25 KiB), so every head between our limits and this one gets
/// our envelope. Beyond it hyper answers a bare 431 itself and closes; it bounds the memory a
/// head takes.
pub const HYPER_MAX_HEAD_BYTES: usize = 64 * 1024;
/// hyper's cap on header fields, above [`MAX_HEADER_COUNT`] so that 101 to 1024 fields get our
/// envelope; beyond it, a bare 431 from hyper. Not higher: hyper allocates this many slots
/// for every parse attempt.
pub const HYPER_MAX_HEADERS: usize = 1024;

/// A request head must be complete this long after its first byte: a client trickling its
/// headers holds a connection for no more than that.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request (or a response that makes no progress) for this long is
/// closed. Above the 5-15 s browsers and HTTP clients keep a connection for reuse, so it is the
/// client that closes first in ordinary use.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time from a complete head to the response head, body reading included. Above the
/// longest `Prefer: wait` (25 s), so only a stuck or trickling request meets it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once. A browser opens six; the bound keeps a flood of connections
/// from exhausting file descriptors and memory.
pub const MAX_CONNECTIONS: usize = 256;
/// After answering 408 to a half-sent head, how long we read (and drop) what the client still
/// sends before closing: closing with unread bytes sends a reset that can destroy our answer.
const LINGER: Duration = Duration::from_secs(1);
/// Pause after a failed accept that is not about one connection (out of file descriptors): an
/// immediate retry would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Timeouts and bounds of [`serve`]; tests inject short ones.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` (with [`with_request_limits`]) on `listener` until `shutdown` completes,
/// then stops accepting, lets each connection finish its current response and returns when
/// all have closed. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) {
    let router = with_request_limits(router);
    let max = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let config = Arc::new(config);
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // A slot first, then accept: beyond the bound, connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    if !is_per_connection(&e) {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = Conn {
            router: router.clone(),
            config: config.clone(),
            peer,
            stop: stopped.clone(),
        };
        tokio::spawn(async move {
            conn.run(stream).await;
            drop(slot);
        });
    }
    // New connections are refused from here on.
    drop(listener);
    stop.send_replace(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Answers 414 and 431 with the JSON error envelope before `router` sees the request. Apply it
/// outermost: the envelope's request id is chosen as for every other request.
pub fn with_request_limits(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(enforce_limits))
}

async fn enforce_limits(req: Request, next: Next) -> Response {
    match over_limit(&req) {
        Some(error) => request_id::respond(&req, &error),
        None => next.run(req).await,
    }
}

fn over_limit(req: &Request) -> Option<ApiError> {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(ApiError::new(
            ErrorCode::UriTooLong,
            format!("the URI is {uri} bytes; the limit is {MAX_URI_BYTES}"),
        ));
    }
    let headers = req.headers();
    if headers.len() > MAX_HEADER_COUNT {
        return Some(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request has {} header fields; the limit is {MAX_HEADER_COUNT}",
                headers.len()
            ),
        ));
    }
    // As on the wire: `name: value\r\n`.
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("the headers are {bytes} bytes; the limit is {MAX_HEADER_BYTES}"),
        ));
    }
    None
}

/// The envelope as raw HTTP/1.1 bytes, for a connection hyper has given up (no request to
/// answer through the router).
fn raw_answer(error: &ApiError) -> Vec<u8> {
    let id = uuid::Uuid::new_v4().to_string();
    let body = error.to_json(&id);
    let status = error.code.status();
    let reason = status.canonical_reason().unwrap_or("");
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{REQUEST_ID_HEADER}: {id}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        body.len(),
    )
    .into_bytes()
}

/// What a connection is doing, as the watchdog sees it.
struct Activity {
    state: Mutex<ActivityState>,
    /// Wakes the watchdog when a deadline moves earlier (a head starts).
    head_started: Notify,
}

struct ActivityState {
    /// Requests whose response body is not finished.
    in_flight: usize,
    /// Of those, the ones still in the router (bounded by the request timeout instead).
    handling: usize,
    /// First byte of a head not yet complete.
    head_since: Option<Instant>,
    /// End of the last response, or the accept.
    idle_since: Instant,
    /// Last byte read or written.
    last_io: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Nothing asked: close.
    Idle,
    /// A head not complete in time: 408, close.
    Head,
    /// A response that makes no progress: drop the connection.
    Stalled,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                handling: 0,
                head_since: None,
                idle_since: now,
                last_io: now,
            }),
            head_started: Notify::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut ActivityState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn read(&self) {
        let started = self.with(|s| {
            s.last_io = Instant::now();
            let starts = s.in_flight == 0 && s.head_since.is_none();
            if starts {
                s.head_since = Some(s.last_io);
            }
            starts
        });
        if started {
            self.head_started.notify_one();
        }
    }

    fn wrote(&self) {
        self.with(|s| s.last_io = Instant::now());
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.with(|s| {
            s.in_flight += 1;
            s.handling += 1;
            s.head_since = None;
        });
        InFlight {
            activity: self.clone(),
            handling: true,
        }
    }

    fn deadline(&self, config: &ServeConfig) -> (Instant, Expiry) {
        self.with(|s| {
            if s.handling > 0 {
                // Never due while the router works: the request timeout answers first.
                (Instant::now() + config.idle_timeout, Expiry::Stalled)
            } else if s.in_flight > 0 {
                (s.last_io + config.idle_timeout, Expiry::Stalled)
            } else if let Some(since) = s.head_since {
                (since + config.header_read_timeout, Expiry::Head)
            } else {
                (s.idle_since + config.idle_timeout, Expiry::Idle)
            }
        })
    }
}

/// A request in flight until its response body is done (or dropped).
struct InFlight {
    activity: Arc<Activity>,
    handling: bool,
}

impl InFlight {
    /// The router has answered; from now on the response must make progress.
    fn handled(&mut self) {
        if std::mem::take(&mut self.handling) {
            self.activity.with(|s| {
                s.handling = s.handling.saturating_sub(1);
                s.last_io = Instant::now();
            });
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let handling = self.handling;
        self.activity.with(|s| {
            if handling {
                s.handling = s.handling.saturating_sub(1);
            }
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                s.idle_since = Instant::now();
                s.head_since = None;
            }
        });
    }
}

/// The socket, reporting each read and write to the watchdog.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A response body that keeps its request in flight until it is done.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

struct Conn {
    router: Router,
    config: Arc<ServeConfig>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
}

impl Conn {
    async fn run(mut self, stream: TcpStream) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let service = {
            let (router, peer, activity) = (self.router.clone(), self.peer, activity.clone());
            let timeout = self.config.request_timeout;
            hyper::service::service_fn(move |req| {
                handle(req, router.clone(), peer, activity.begin(), timeout)
            })
        };
        let mut builder = http1::Builder::new();
        builder
            .max_header_size(HYPER_MAX_HEAD_BYTES)
            .max_headers(HYPER_MAX_HEADERS)
            // The watchdog times heads itself: hyper's timer would also run between requests.
            .header_read_timeout(None);
        let mut conn = builder.serve_connection(io, service);
        let mut closing = false;
        let expired = loop {
            let (deadline, expiry) = activity.deadline(&self.config);
            tokio::select! {
                done = &mut conn => {
                    if let Err(e) = done {
                        tracing::debug!(error = %e, peer = %self.peer, "connection ended");
                    }
                    return;
                }
                () = tokio::time::sleep_until(deadline) => {
                    // Activity may have moved the deadline while we slept.
                    if Instant::now() < activity.deadline(&self.config).0 {
                        continue;
                    }
                    match expiry {
                        Expiry::Idle if !closing => {
                            // Closes at once when idle; finishes a request that just arrived
                            // (with another idle period before it is dropped).
                            Pin::new(&mut conn).graceful_shutdown();
                            closing = true;
                            activity.with(|s| s.idle_since = Instant::now());
                        }
                        other => break other,
                    }
                }
                () = activity.head_started.notified() => {}
                changed = self.stop.changed(), if !closing => {
                    // The sender is gone or says stop: either way, wind down.
                    let _ = changed;
                    Pin::new(&mut conn).graceful_shutdown();
                    closing = true;
                }
            }
        };
        tracing::debug!(peer = %self.peer, expiry = ?expired, "connection timed out");
        if expired == Expiry::Head {
            let stream = conn.into_parts().io.into_inner().stream;
            answer_and_close(stream, &self.config).await;
        }
    }
}

async fn handle(
    req: hyper::Request<Incoming>,
    router: Router,
    peer: SocketAddr,
    mut in_flight: InFlight,
    timeout: Duration,
) -> Result<Response<TrackedBody>, Infallible> {
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(ConnectInfo(peer));
    let caller_id = req.headers().get(REQUEST_ID_HEADER).cloned();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let res = match tokio::time::timeout(timeout, router.oneshot(req)).await {
        Ok(Ok(res)) => res,
        Ok(Err(never)) => match never {},
        Err(_) => {
            tracing::warn!(%method, %path, ?timeout, "request timed out");
            let message = format!(
                "the request was not received and answered within {} s",
                timeout.as_secs_f64()
            );
            // Same id as the router would have used when the caller chose one.
            let mut stand_in = Request::new(Body::empty());
            if let Some(id) = caller_id {
                stand_in.headers_mut().insert(REQUEST_ID_HEADER, id);
            }
            let mut res = request_id::respond(
                &stand_in,
                &ApiError::new(ErrorCode::RequestTimeout, message),
            );
            // The body may still be unread: do not leave the connection in an unknown state.
            res.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            res
        }
    };
    in_flight.handled();
    Ok(res.map(|inner| TrackedBody {
        inner,
        _in_flight: in_flight,
    }))
}

/// 408 with the envelope on a connection whose head never completed, then close.
async fn answer_and_close(mut stream: TcpStream, config: &ServeConfig) {
    let message = format!(
        "the request head was not received within {} s",
        config.header_read_timeout.as_secs_f64()
    );
    let raw = raw_answer(&ApiError::new(ErrorCode::RequestTimeout, message));
    let written = tokio::time::timeout(config.header_read_timeout, async {
        stream.write_all(&raw).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}
