//! The dev server's console page (`GET /`): self-contained, calling only operations the API
//! documents with the body the API documents, reading fields the API serves, and never showing
//! the API key. The page is the reference for the API's clients, so a renamed route or field
//! breaks here rather than in a browser.

use std::collections::BTreeSet;

use imagegen::domain::jobs::JobStatus;
use imagegen::domain::request;
use serde_json::{Value, json};

use crate::common::*;

async fn page(h: &Harness) -> String {
    let res = h.req("GET", "/").send().await;
    res.assert_status(200);
    let content_type = res.header("content-type").unwrap_or("");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    String::from_utf8(res.bytes.to_vec()).unwrap()
}

/// The page's one inline script.
fn script(page: &str) -> &str {
    assert_eq!(page.matches("<script").count(), 1, "one inline script");
    let start = page
        .find("<script>")
        .expect("an inline <script> without attributes")
        + 8;
    let end = page[start..].find("</script>").unwrap() + start;
    &page[start..end]
}

/// The text of the string literal (`"…"` or `` `…` ``) at the start of `s`, and the rest.
fn literal(s: &str) -> Option<(&str, &str)> {
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '`')?;
    let end = s[1..].find(quote)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}

fn head(s: &str) -> String {
    s.chars().take(40).collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// Every `api(METHOD, PATH, …)` call of the script as (method, path template with each
/// parameter written `{}`). A call whose method or path is not a literal fails the test: the
/// page must keep its calls readable.
fn api_calls(script: &str) -> BTreeSet<(String, String)> {
    let mut calls = BTreeSet::new();
    for (at, _) in script.match_indices("api(") {
        if script[..at].ends_with(is_ident) {
            continue; // `loadApi(` and the like
        }
        if script[..at].ends_with("function ") {
            continue; // the helper itself
        }
        let rest = &script[at + 4..];
        let (method, rest) = literal(rest)
            .unwrap_or_else(|| panic!("an api() call without a literal method: {}", head(rest)));
        let rest = rest.trim_start().strip_prefix(',').unwrap().trim_start();
        let (path, _) = literal(rest)
            .unwrap_or_else(|| panic!("an api() call without a literal path: {}", head(rest)));
        calls.insert((method.to_owned(), template(path, "${", '}')));
    }
    calls
}

/// `path` with every parameter (from `open` to `close`) written `{}`.
fn template(path: &str, open: &str, close: char) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        out.push_str("{}");
        let end = rest[start..].find(close).unwrap() + start;
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn documented_operations(h: &Harness) -> (Value, BTreeSet<(String, String)>) {
    let res = h.call("GET", "/openapi.json", None, None).await;
    res.assert_status(200);
    let mut ops = BTreeSet::new();
    for (path, item) in res.json["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), template(path, "{", '}')));
        }
    }
    (res.json, ops)
}

#[tokio::test]
async fn console_page_is_served_without_external_resources() {
    let h = Harness::new();
    let page = page(&h).await;
    let lower = page.to_lowercase();
    // Nothing from another host: no absolute URL anywhere (a signed image URL comes from the
    // API at run time), no stylesheet or script file, no import, no font.
    for banned in [
        "http://",
        "https://",
        "src=\"//",
        "href=\"//",
        "<link",
        "<script src",
        "<iframe",
    ] {
        assert!(!lower.contains(banned), "the page contains `{banned}`");
    }
    // Styles load nothing either (the script is left out: `readAsDataURL(` is no resource).
    let script_at = lower.find("<script>").unwrap();
    let markup = [
        &lower[..script_at],
        &lower[lower.find("</script>").unwrap()..],
    ]
    .concat();
    for banned in ["url(", "@import", "@font-face"] {
        assert!(!markup.contains(banned), "the styles contain `{banned}`");
    }
    // And the browser holds it to that: calls go to the page's own origin only.
    assert!(
        lower.contains("content-security-policy") && lower.contains("connect-src 'self'"),
        "no Content-Security-Policy limiting calls to the page's origin"
    );
}

#[tokio::test]
async fn every_call_the_console_makes_is_a_documented_operation() {
    let h = Harness::new();
    let page = page(&h).await;
    let script = script(&page);
    // One fetch, inside `api()`: every call is one this test reads.
    assert_eq!(
        script.matches("fetch(").count(),
        1,
        "fetch only inside api()"
    );
    assert!(!script.contains("XMLHttpRequest") && !script.contains("sendBeacon"));

    let calls = api_calls(script);
    let (_, documented) = documented_operations(&h).await;
    let missing: Vec<_> = calls.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "the console calls operations the API does not document: {missing:?}"
    );
    // And it still has every part: a call dropped is a part of the console lost.
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/v1/images"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/{}"),
        ("POST", "/v1/jobs/{}/cancel"),
        ("DELETE", "/v1/jobs/{}"),
        ("GET", "/v1/jobs/{}/webhooks"),
        ("POST", "/v1/jobs/{}/webhooks/redeliver"),
        ("POST", "/v1/webhooks/secret"),
        ("GET", "/v1/usage"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(
        calls, expected,
        "the console's calls changed: update this list"
    );
}

/// The plain `<option>x</option>` values of the `<select id="{id}" …>` (a placeholder written
/// `<option value="">` is not one).
fn options(page: &str, id: &str) -> Vec<String> {
    let start = page.find(&format!("<select id=\"{id}\"")).unwrap();
    let end = page[start..].find("</select>").unwrap() + start;
    page[start..end]
        .split("<option>")
        .skip(1)
        .map(|o| o.split("</option>").next().unwrap().to_owned())
        .collect()
}

/// The request body the page builds: the keys of `const body = { … }` and every `body.x =`.
fn body_fields(script: &str) -> BTreeSet<String> {
    let start = script.find("const body = {").unwrap() + "const body = {".len();
    let end = script[start..].find('}').unwrap() + start;
    let mut fields: BTreeSet<String> = script[start..end]
        .split(',')
        .map(|entry| entry.split(':').next().unwrap().trim().to_owned())
        .collect();
    for (at, _) in script.match_indices("body.") {
        let name: String = script[at + 5..]
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if script[at + 5 + name.len()..].trim_start().starts_with("= ") {
            fields.insert(name);
        }
    }
    fields
}

#[tokio::test]
async fn the_console_sends_the_documented_request_body_and_headers() {
    let h = Harness::new();
    let page = page(&h).await;
    let script = script(&page);
    let fields = body_fields(script);
    for field in [
        "prompt",
        "aspect_ratio",
        "count",
        "output_format",
        "quality",
    ] {
        assert!(
            fields.contains(field),
            "the console no longer sends {field}"
        );
    }

    let (doc, _) = documented_operations(&h).await;
    let schema = &doc["components"]["schemas"]["CreateImageRequest"]["properties"];
    let unknown: Vec<_> = fields.iter().filter(|f| schema.get(f).is_none()).collect();
    // The request refuses unknown fields, so each would be a 400.
    assert!(
        unknown.is_empty(),
        "the console sends fields POST /v1/images does not take: {unknown:?}"
    );
    // Its choices are the server's.
    let set = |items: Vec<String>| items.into_iter().collect::<BTreeSet<String>>();
    let strings = |items: &[&str]| set(items.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(
        set(options(&page, "ratio")),
        strings(&request::ASPECT_RATIOS)
    );
    assert_eq!(
        set(options(&page, "format")),
        strings(&request::OUTPUT_FORMATS)
    );
    let counts = (request::MIN_COUNT..=request::MAX_COUNT).map(|n| n.to_string());
    assert_eq!(set(options(&page, "count")), set(counts.collect()));
    let statuses = JobStatus::ALL.map(|s| s.as_str().to_owned());
    assert_eq!(set(options(&page, "filter")), set(statuses.to_vec()));
    let quality = &page[page.find("<input id=\"quality\"").unwrap()..];
    let quality = &quality[..quality.find('>').unwrap()];
    let bounds = format!(
        "min=\"{}\" max=\"{}\"",
        request::MIN_QUALITY,
        request::MAX_QUALITY
    );
    assert!(quality.contains(&bounds), "{quality}");

    let headers: Vec<String> = doc["paths"]["/v1/images"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(script.contains("headers[\"cancel-after\"]"));
    assert!(headers.contains(&"cancel-after".to_owned()), "{headers:?}");
}

/// A source check, not a browser one: the key field is a password field, and the script gives
/// the key to the page only through `maskKey()`. Each use of the key is one of a known few;
/// a new one fails here until someone has read it and listed it.
#[tokio::test]
async fn the_console_shows_the_key_only_masked() {
    let h = Harness::new();
    let page = page(&h).await;
    let input = &page[page.find("<input id=\"key\"").expect("the key field")..];
    let input = &input[..input.find('>').unwrap()];
    assert!(input.contains("type=\"password\""), "{input}");
    assert!(input.contains("autocomplete=\"off\""), "{input}");

    let script = script(&page);
    // Sinks that would parse or print text, with the key or anything else.
    for sink in [
        "innerHTML",
        "outerHTML",
        "innerText",
        "insertAdjacentHTML",
        "document.write",
        "console.",
        "location",
        "history.",
    ] {
        assert!(!script.contains(sink), "the script uses {sink}");
    }
    // Where the key may go: storage, the header, and maskKey().
    const KEY_USES: &[&str] = &[
        "let apiKey = sessionStorage.getItem(KEY_STORAGE)",
        "\"x-api-key\": apiKey",
        "apiKey = key;",
        "if (!apiKey)",
        "setKey(apiKey);",
    ];
    for line in script.lines().filter(|l| l.contains("apiKey")) {
        assert!(
            KEY_USES.iter().any(|u| line.contains(u)),
            "an unreviewed use of the key: {line}"
        );
    }
    for line in script.lines().filter(|l| l.contains("$(\"key\")")) {
        assert!(
            line.contains("$(\"key\").value = \"\"") || line.contains("setKey($(\"key\").value"),
            "an unreviewed use of the key field: {line}"
        );
    }
    // The visible text and titles that the key could reach: only ever through maskKey().
    let without_strings = |line: &str| -> String {
        line.split('"')
            .step_by(2)
            .collect::<Vec<_>>()
            .join("")
            .replace("maskKey(key)", "")
    };
    for line in script
        .lines()
        .filter(|l| l.contains("textContent") || l.contains("title"))
    {
        let code = without_strings(line);
        let mentions_key = code
            .split(|c: char| !is_ident(c))
            .any(|word| word == "key" || word == "apiKey");
        assert!(!mentions_key, "the key may reach the page unmasked: {line}");
    }
    assert!(script.contains("$(\"key-shown\").textContent = maskKey(key);"));
    let mask = &script[script.find("function maskKey(key)").expect("maskKey")..];
    let mask = &mask[..mask.find("\n}").unwrap()];
    assert!(
        mask.contains("\"••••\"") && mask.contains("key.slice(-4)"),
        "{mask}"
    );
}

/// What the console reads, read from the API's own answers: a job of the console's shape
/// through the worker, the history page, the detail's actions and the usage meters.
#[tokio::test]
async fn the_fields_the_console_reads_are_served() {
    let h = Harness::new();
    let key = h.create_key("console", ALL_SCOPES).await;
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("cancel-after", "600")
        .json(
            &json!({"prompt": "a fox", "aspect_ratio": "16:9", "count": 2,
            "output_format": "jpeg", "quality": 80}),
        )
        .send()
        .await;
    res.assert_status(202);
    let done = res.json["job_id"].as_str().unwrap().to_owned();
    h.run_worker().await;
    let queued = h.submit(&key, "another fox").await;

    let res = h
        .call(
            "GET",
            "/v1/jobs?limit=10&status=succeeded",
            Some(&key.key),
            None,
        )
        .await;
    res.assert_status(200);
    let jobs = res.json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job["job_id"], done.as_str());
    for field in [
        "status",
        "created_at",
        "updated_at",
        "cancel_at",
        "charged_images",
    ] {
        assert!(
            job[field].is_string() || job[field].is_u64(),
            "{field}: {job}"
        );
    }
    assert!(
        job["images"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with(BLOB_BASE)
    );
    for field in ["width", "height", "bytes"] {
        assert!(job["images"][0][field].is_u64(), "{field}");
    }
    assert_eq!(job["images"][0]["mime_type"], "image/jpeg");
    assert_eq!(job["usage"]["images_delivered"], 2);
    for field in [
        "input_tokens",
        "output_tokens",
        "estimated_cost_microdollars",
    ] {
        assert!(job["usage"][field].is_u64(), "usage.{field}: {job}");
    }
    for outcome in job["outcomes"].as_array().unwrap() {
        assert!(outcome["index"].is_u64() && outcome["state"] == "delivered");
    }

    // Detail actions: Cancel on the queued job (200 or 202), Delete on the finished one (204).
    let path = format!("/v1/jobs/{queued}/cancel");
    let res = h.call("POST", &path, Some(&key.key), None).await;
    assert!([200, 202].contains(&res.status.as_u16()), "{}", res.json);
    assert!(res.json["status"].is_string() && res.json["usage"].is_object());
    let path = format!("/v1/jobs/{done}");
    h.call("DELETE", &path, Some(&key.key), None)
        .await
        .assert_status(204);

    // Meters: each window against its limit, and the cost.
    let res = h.call("GET", "/v1/usage", Some(&key.key), None).await;
    res.assert_status(200);
    let windows = res.json["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    for w in windows {
        assert!(w["window"].is_string() && w["measure"].is_string() && w["resets_at"].is_string());
        for field in ["limit", "used", "remaining"] {
            assert!(w[field].is_u64(), "{field}: {w}");
        }
    }
    for c in res.json["cost"].as_array().unwrap() {
        assert!(
            c["window"].is_string() && c["estimated_microdollars"].is_u64(),
            "{c}"
        );
    }

    // A job without a webhook: its deliveries say so (the page shows "no webhook").
    let path = format!("/v1/jobs/{queued}/webhooks");
    let res = h.call("GET", &path, Some(&key.key), None).await;
    res.assert_status(200);
    assert_eq!(res.json["deliveries"], json!([]), "{}", res.json);
    assert!(res.json.get("webhook").is_none(), "{}", res.json);

    // Errors are shown from the envelope: code, message, details, request id.
    let res = h
        .call("GET", "/v1/jobs?status=nope", Some(&key.key), None)
        .await;
    res.assert_error(400, "invalid_request");
    assert!(res.json["error"]["request_id"].is_string());
}
