//! One request sent through the router, and its response as a client sees it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// One request, built up and sent through the router with `oneshot`.
pub struct Req {
    pub(super) router: Router,
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) body: Option<Vec<u8>>,
    pub(super) ip: Option<SocketAddr>,
}

impl Req {
    pub fn key(self, key: &str) -> Self {
        self.header_bytes("x-api-key", key.as_bytes())
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        ));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw(serde_json::to_vec(body).unwrap(), Some("application/json"))
    }

    pub fn raw(mut self, body: Vec<u8>, content_type: Option<&str>) -> Self {
        self.body = Some(body);
        match content_type {
            Some(ct) => self.header("content-type", ct),
            None => self,
        }
    }

    pub fn ip(mut self, ip: [u8; 4]) -> Self {
        self.ip = Some(SocketAddr::from((ip, 40_000)));
        self
    }

    pub async fn send(self) -> Resp {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(self.body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        if let Some(ip) = self.ip {
            request.extensions_mut().insert(ConnectInfo(ip));
        }
        let response = self.router.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let res = Resp {
            status: parts.status,
            headers: parts.headers,
            bytes,
            json,
        };
        res.check_invariants();
        res
    }
}

/// A response as a client sees it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    pub json: Value,
}

impl Resp {
    /// What holds for every response of the service: an `x-request-id`; an error status
    /// always comes as the envelope carrying that same id; never a panic.
    fn check_invariants(&self) {
        let id = self
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on a {} response", self.status));
        assert!(!id.is_empty());
        if self.status.is_client_error() || self.status.is_server_error() {
            let error = &self.json["error"];
            assert!(
                error.is_object(),
                "{} without the error envelope: {:?}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            );
            assert_eq!(error["request_id"], id, "envelope and header disagree");
            assert!(error["code"].is_string() && error["message"].is_string());
            if let Some(details) = error.get("details") {
                for d in details.as_array().unwrap() {
                    assert!(d["field"].is_string() && d["issue"].is_string(), "{d}");
                }
            }
            assert_eq!(
                self.header("content-type"),
                Some("application/json"),
                "error bodies are JSON"
            );
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn details(&self) -> Vec<(String, String)> {
        self.json["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|d| {
                        (
                            d["field"].as_str().unwrap().to_owned(),
                            d["issue"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        self
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(self.code(), code, "{}", self.json);
        self
    }

    #[track_caller]
    pub fn assert_detail(&self, field: &str, issue: &str) -> &Self {
        assert!(
            self.details().iter().any(|(f, i)| f == field && i == issue),
            "no detail {field}/{issue} in {}",
            self.json
        );
        self
    }

    /// The members of the structured-field List `field` (`RateLimit-Policy` or `RateLimit`), by
    /// policy name: each member's integer parameters. Parsed by sfv, an implementation of RFC
    /// 9651 independent of the service's, so a malformed field fails here.
    #[track_caller]
    pub fn rate_list(&self, field: &str) -> Vec<(String, BTreeMap<String, i64>)> {
        let value = self
            .header(field)
            .unwrap_or_else(|| panic!("no {field} header on {}", self.status));
        let list: sfv::List = sfv::Parser::new(value)
            .parse()
            .unwrap_or_else(|e| panic!("{field}: {value:?} is not a structured-field List: {e}"));
        list.into_iter()
            .map(|entry| {
                let sfv::ListEntry::Item(item) = entry else {
                    panic!("{field}: an inner list in {value:?}")
                };
                let name = item
                    .bare_item
                    .as_string()
                    .unwrap_or_else(|| {
                        panic!("{field}: a policy name that is not a String in {value:?}")
                    })
                    .as_str()
                    .to_owned();
                let params = item
                    .params
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), i64::from(v.as_integer()?))))
                    .collect();
                (name, params)
            })
            .collect()
    }

    /// Policy `name`'s quota and window in `RateLimit-Policy`, and what remains of it and
    /// when it resets in `RateLimit`: `(q, w, r, t)`.
    #[track_caller]
    pub fn rate_policy(&self, name: &str) -> (u64, u64, u64, u64) {
        let find = |field: &str| {
            self.rate_list(field)
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| {
                    panic!("no policy {name:?} in {field}: {:?}", self.header(field))
                })
                .1
        };
        let (policy, state) = (find("ratelimit-policy"), find("ratelimit"));
        let n = |params: &BTreeMap<String, i64>, key: &str| -> u64 {
            u64::try_from(
                *params
                    .get(key)
                    .unwrap_or_else(|| panic!("{name}: no {key}")),
            )
            .unwrap()
        };
        (
            n(&policy, "q"),
            n(&policy, "w"),
            n(&state, "r"),
            n(&state, "t"),
        )
    }

    /// The policy names `RateLimit` reports on, in order.
    #[track_caller]
    pub fn rate_policies(&self) -> Vec<String> {
        self.rate_list("ratelimit")
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        self.header("retry-after")
            .unwrap_or_else(|| panic!("no retry-after on {}", self.status))
            .parse()
            .unwrap()
    }
}
