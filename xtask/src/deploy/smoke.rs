//! Step 10, after a deploy: `GET <api_url>/healthz` must answer 200 `{"status":"ok"}`, tried a
//! few times while API Gateway and the moved alias settle. (`cargo xtask smoke` is another
//! thing: the zips' bootstraps under a local Runtime API, before anything ships.)

use std::time::Duration;

use anyhow::{Context, bail, ensure};

use super::Deploy;
use crate::environment::Outputs;

/// `GET /healthz` tries after a deploy, and the pause between them: API Gateway and a moved
/// alias answer within seconds, a cold start included.
const SMOKE_TRIES: u32 = 8;
const SMOKE_PAUSE: Duration = Duration::from_secs(2);

impl Deploy<'_> {
    pub(super) fn smoke(&self, outputs: &Outputs) -> crate::Result<()> {
        let url = format!("{}/healthz", outputs.api_url.trim_end_matches('/'));
        self.say(format!(
            "GET {url}  (expects 200 {{\"status\":\"ok\"}}; up to {SMOKE_TRIES} tries, {} s apart)",
            SMOKE_PAUSE.as_secs()
        ));
        if self.dry {
            return Ok(());
        }
        let client = imagegen::tls::reqwest_builder()?
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut last = String::new();
        for attempt in 1..=SMOKE_TRIES {
            match self.rt.block_on(healthz(&client, &url)) {
                Ok(version) => {
                    self.say(format!("-> 200 ok, version {version}"));
                    return Ok(());
                }
                Err(why) => {
                    last = crate::one_line(&why);
                    self.say(format!("-> try {attempt}: {last}"));
                }
            }
            if attempt < SMOKE_TRIES {
                std::thread::sleep(SMOKE_PAUSE);
            }
        }
        bail!(
            "smoke check failed: GET {url} did not answer 200 {{\"status\":\"ok\"}} in \
             {SMOKE_TRIES} tries (last: {last}); what was applied stays: roll back with \
             `cargo xtask deploy --env {} --artifact <previous release id>`",
            self.env
        )
    }
}

/// One `GET /healthz`: the service's version when it answers 200 `{"status":"ok"}`.
async fn healthz(client: &reqwest::Client, url: &str) -> crate::Result<String> {
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    let body = response.text().await?;
    check_health(status, &body)
}

fn check_health(status: u16, body: &str) -> crate::Result<String> {
    let excerpt: String = body.chars().take(120).collect();
    ensure!(status == 200, "HTTP {status} {excerpt}");
    let json: serde_json::Value = serde_json::from_str(body)
        .ok()
        .with_context(|| format!("HTTP 200 but the body is not JSON: {excerpt}"))?;
    ensure!(json["status"] == "ok", "HTTP 200 but the body is {excerpt}");
    Ok(json["version"].as_str().unwrap_or("unknown").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_must_answer_200_with_status_ok() {
        assert_eq!(
            check_health(200, r#"{"status":"ok","version":"0.1.0"}"#).unwrap(),
            "0.1.0"
        );
        assert!(
            check_health(502, "Bad Gateway")
                .unwrap_err()
                .to_string()
                .contains("502")
        );
        assert!(check_health(200, "<html>").is_err());
        assert!(check_health(200, r#"{"status":"starting"}"#).is_err());
    }
}
