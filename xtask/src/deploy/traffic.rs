//! Moving traffic after an apply, and back: the `live` alias of each function (which API
//! Gateway and the queue's event source mapping invoke) is moved by the deploy, not by
//! Terraform (modules/lambda_function ignores its version and routing).
//!
//! - Without `--canary`: `live` moves to the release's version at once.
//! - `--canary P --bake D`: `live` keeps its version and sends P % of the invocations to the
//!   release's (weighted routing), on both functions; for D the deploy watches the
//!   environment's error, throttle and 5xx alarms (refusing to start while one is already in
//!   ALARM); then it promotes (`live` -> the new versions, no weights) or, at the first alarm,
//!   rolls back (`live` -> the old versions, no weights) and fails naming the alarm.
//! - `cargo xtask rollback --env E`: `live` -> the version each function ran before (the newest
//!   older version with other code), saying which.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Deploy;
use super::flow::{BAKE, CANARY, PROMOTE, ROLL_BACK};
use super::lambda::{ALIAS, Mode, Versions};
use super::release::Release;
use crate::aws::AwsContext;
use crate::environment::{Env, Outputs};

/// The alarms a canary watches: the environment's (modules/observability) that a bad release
/// trips first.
pub fn watched_alarms(env: Env) -> Vec<String> {
    let prefix = format!("imagegen-{env}");
    vec![
        format!("{prefix}-api-5xx"),
        format!("{prefix}-api-errors"),
        format!("{prefix}-worker-errors"),
        format!("{prefix}-api-throttles"),
        format!("{prefix}-worker-throttles"),
    ]
}

/// How often the bake looks at the alarms: a tenth of it, between 1 and 30 s.
pub fn poll_interval(bake: Duration) -> Duration {
    (bake / 10).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

impl Deploy<'_> {
    /// After the apply (in the step `go live`): each function's version for the release, then
    /// `live` moved to them, at once or by canary.
    pub(super) fn go_live(
        &mut self,
        release: &Release,
        bucket: &str,
        outputs: &Outputs,
    ) -> crate::Result<()> {
        let mut moving = Vec::new();
        for (bin, function) in super::flow::functions(outputs) {
            if let Some(versions) =
                self.version_to_ship(bin, function, release, bucket, Mode::Check)?
            {
                moving.push(versions);
            }
        }
        let Some(percent) = self.args.canary else {
            for versions in &moving {
                self.point_live(&versions.function, &versions.to, None)?;
                self.say(format!(
                    "-> {} {ALIAS} {} -> {}",
                    versions.function, versions.from, versions.to
                ));
            }
            return Ok(());
        };
        let bake = self
            .args
            .bake
            .context("internal: --canary without --bake")?;
        if moving.is_empty() {
            self.say("-> every function runs the release already: no canary");
            return Ok(());
        }
        let alarms = watched_alarms(self.env);
        self.check_alarms(&alarms)?;

        self.progress.start(CANARY);
        for versions in &moving {
            self.point_live(
                &versions.function,
                &versions.to,
                Some((&versions.from, percent)),
            )?;
        }
        if !self.dry {
            self.say(format!(
                "-> {percent} % of the invocations run release {}",
                release.short_id()
            ));
        }

        self.progress.start(BAKE);
        let tripped = self.bake(&alarms, bake)?;
        if let Some(alarm) = tripped {
            self.progress.start(ROLL_BACK);
            for versions in &moving {
                self.point_live(&versions.function, &versions.from, None)?;
                self.say(format!(
                    "-> {} {ALIAS} back on {} (release {} got none of the traffic)",
                    versions.function,
                    versions.from,
                    release.short_id()
                ));
            }
            bail!(
                "the canary of release {} was rolled back: alarm {alarm} went into ALARM during \
                 the bake; every function runs its previous version",
                release.id
            );
        }

        self.progress.start(PROMOTE);
        for Versions { function, from, to } in &moving {
            self.point_live(function, to, None)?;
            self.say(format!("-> {function} {ALIAS} {from} -> {to}"));
        }
        Ok(())
    }

    /// Watches `alarms` for `bake`; returns the first one found in ALARM.
    fn bake(&self, alarms: &[String], bake: Duration) -> crate::Result<Option<String>> {
        let every = poll_interval(bake);
        self.say(format!(
            "aws cloudwatch:DescribeAlarms {}  (every {} s for {} s)",
            alarms.join(" "),
            every.as_secs(),
            bake.as_secs()
        ));
        if self.dry {
            self.say("-> promotes when none goes into ALARM; else rolls back at once");
            return Ok(None);
        }
        let started = Instant::now();
        loop {
            if let Some(alarm) = self.alarm_firing(alarms)? {
                self.say(format!(
                    "-> {alarm} is in ALARM after {:.0} s",
                    started.elapsed().as_secs_f64()
                ));
                return Ok(Some(alarm));
            }
            let elapsed = started.elapsed();
            if elapsed >= bake {
                self.say(format!(
                    "-> no alarm in {:.0} s: promoting",
                    elapsed.as_secs_f64()
                ));
                return Ok(None);
            }
            std::thread::sleep(every.min(bake - elapsed));
        }
    }

    /// Refuses a canary whose alarms do not exist or one of which already fires: it could not
    /// tell a bad release from a bad day.
    fn check_alarms(&self, alarms: &[String]) -> crate::Result<()> {
        self.say(format!(
            "aws cloudwatch:DescribeAlarms {}",
            alarms.join(" ")
        ));
        if self.dry {
            self.say("-> refuses a canary when one is missing or already in ALARM");
            return Ok(());
        }
        let states = self.alarm_states(alarms)?;
        let missing: Vec<&str> = alarms
            .iter()
            .filter(|a| !states.iter().any(|(name, _)| name == *a))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            bail!(
                "a canary needs the alarms of environments/{}, and {} do not exist: deploy once \
                 without --canary",
                self.env,
                missing.join(", ")
            );
        }
        if let Some((name, _)) = states.iter().find(|(_, state)| state == "ALARM") {
            bail!(
                "alarm {name} is in ALARM before the canary starts, so the bake could not tell \
                 whether the release is to blame: fix what trips it, or deploy without --canary"
            );
        }
        self.say(format!("-> {} alarms, none in ALARM", states.len()));
        Ok(())
    }

    fn alarm_firing(&self, alarms: &[String]) -> crate::Result<Option<String>> {
        Ok(self
            .alarm_states(alarms)?
            .into_iter()
            .find(|(_, state)| state == "ALARM")
            .map(|(name, _)| name))
    }

    /// Each alarm's name and state (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    fn alarm_states(&self, alarms: &[String]) -> crate::Result<Vec<(String, String)>> {
        let client = aws_sdk_cloudwatch::Client::new(&self.aws()?.sdk);
        let out = self
            .rt
            .block_on(
                client
                    .describe_alarms()
                    .set_alarm_names(Some(alarms.to_vec()))
                    .send(),
            )
            .aws_context(|| "cloudwatch:DescribeAlarms")?;
        Ok(out
            .metric_alarms()
            .iter()
            .filter_map(|a| {
                Some((
                    a.alarm_name()?.to_owned(),
                    a.state_value()?.as_str().to_owned(),
                ))
            })
            .collect())
    }

    /// `cargo xtask rollback`: each function's `live` back on the version it ran before.
    pub(super) fn roll_back(&mut self, outputs: &Outputs) -> crate::Result<()> {
        for (_, function) in super::flow::functions(outputs) {
            self.say(format!("aws lambda:GetAlias {function} {ALIAS}"));
            self.say(format!("aws lambda:ListVersionsByFunction {function}"));
            if self.dry {
                self.say(
                    "-> the newest version older than live's with other code (during a canary: \
                     live's own version, without the weights)",
                );
                self.point_live(function, "<previous-version>", None)?;
                continue;
            }
            let client = &self.aws()?.lambda;
            let (current, canary) = self.live_alias(client, function)?;
            let versions = self.published_versions(client, function)?;
            let target = if canary {
                // A canary in flight: its stable version is still `live`'s own.
                current.clone()
            } else {
                let number: u64 = current.parse().with_context(|| {
                    format!("{function} {ALIAS} runs `{current}`, not a version")
                })?;
                let code = versions
                    .iter()
                    .find(|(n, _)| *n == number)
                    .map(|(_, code)| code.clone())
                    .unwrap_or_default();
                versions
                    .iter()
                    .filter(|(n, c)| *n < number && *c != code)
                    .max_by_key(|(n, _)| *n)
                    .map(|(n, _)| n.to_string())
                    .with_context(|| {
                        format!(
                            "{function} has no version before {current} with other code: nothing \
                             to roll back to"
                        )
                    })?
            };
            self.point_live(function, &target, None)?;
            self.say(if canary {
                format!(
                    "-> {function} {ALIAS}: the canary's weights removed; all traffic on {target}"
                )
            } else {
                format!("-> {function} {ALIAS} {current} -> {target} (the version it ran before)")
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bake_looks_ten_times_within_sane_bounds() {
        assert_eq!(
            poll_interval(Duration::from_secs(600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(100)),
            Duration::from_secs(10)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(3)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_canary_watches_the_environments_error_throttle_and_5xx_alarms() {
        let alarms = watched_alarms(Env::Prod);
        assert_eq!(alarms.len(), 5);
        assert!(alarms.iter().all(|a| a.starts_with("imagegen-prod-")));
        for kind in ["5xx", "errors", "throttles"] {
            assert!(alarms.iter().any(|a| a.ends_with(kind)), "{kind}");
        }
    }
}
