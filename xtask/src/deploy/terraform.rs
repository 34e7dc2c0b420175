//! Terraform as a deploy runs it (steps 4, 5, 8 and `terraform output`): in the environment's
//! root, each command printed first, its output on the terminal, a failure named by its
//! subcommand.

use anyhow::{Context, bail};
use xshell::cmd;

use super::Deploy;
use super::release::Release;
use crate::environment::{self, Outputs};

impl Deploy<'_> {
    /// `-chdir=environments/<env>` and `args`.
    pub(super) fn tf_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![environment::chdir(self.env)];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    /// Prints and runs a Terraform command, its output going to the terminal.
    pub(super) fn terraform(&self, args: &[String]) -> crate::Result<()> {
        self.say(format!("$ terraform {}", shell_words(args)));
        if self.dry {
            return Ok(());
        }
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .run()
            .ok()
            .with_context(|| terraform_failed(args))
    }

    /// Prints and runs a Terraform command, returning its output.
    pub(super) fn terraform_read(&self, args: &[String]) -> crate::Result<String> {
        self.say(format!("$ terraform {}", shell_words(args)));
        let program = environment::terraform_program();
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .read()
            .ok()
            .with_context(|| terraform_failed(args))
    }

    /// `terraform plan -out` with the release: its artifact bucket, keys, hashes and
    /// architecture in one `-var=release={…}` (the root's `release`, typed and checked by
    /// modules/stack).
    pub(super) fn plan_args(
        &self,
        release: &Release,
        bucket: &str,
        plan_file: &str,
    ) -> crate::Result<Vec<String>> {
        let mut args = self.tf_args(&["plan", "-input=false", &format!("-out={plan_file}")]);
        // A plan that is only reviewed writes nothing, not even the state's lock object: the
        // read-only plan role may run it. Applying a saved plan takes the lock and refuses the
        // plan if the state changed after it was made.
        if self.args.plan_only {
            args.push("-lock=false".to_owned());
        }
        args.push(format!("-var=release={}", release_object(release, bucket)?));
        Ok(args)
    }

    /// `terraform apply` of a saved plan. Its error output is shown as it comes and also read:
    /// a plan made before the state last changed is refused by Terraform ("Saved plan is
    /// stale"), which becomes one line saying what to do.
    pub(super) fn apply_saved(&self, plan_file: &str) -> crate::Result<()> {
        let args = self.tf_args(&["apply", "-input=false", plan_file]);
        self.say(format!("$ terraform {}", shell_words(&args)));
        if self.dry {
            return Ok(());
        }
        let mut child = std::process::Command::new(environment::terraform_program())
            .args(&args)
            .current_dir(self.sh.current_dir())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("cannot start terraform")?;
        let mut stale = false;
        if let Some(stderr) = child.stderr.take() {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.unwrap_or_default();
                stale |= line.contains("Saved plan is stale");
                eprintln!("{line}");
            }
        }
        let status = child.wait().context("terraform did not finish")?;
        if status.success() {
            return Ok(());
        }
        if stale {
            bail!(
                "the state of environments/{} changed after this plan was made (another apply ran): \
                 nothing was applied; plan again and review the new plan",
                self.env
            );
        }
        bail!(terraform_failed(&args))
    }

    /// `terraform destroy`, asked already: Terraform needs every variable to destroy, and no
    /// release's artifacts matter then, so `release` is a well-formed placeholder.
    pub(super) fn destroy_args(&self, bucket: &str) -> crate::Result<Vec<String>> {
        let mut args = self.tf_args(&["destroy", "-input=false", "-auto-approve"]);
        let mut fields = vec![("artifact_bucket".to_owned(), bucket.to_owned())];
        for bin in crate::LAMBDA_BINS {
            fields.push((
                format!("{bin}_artifact_key"),
                format!("lambda/{}.zip", "0".repeat(64)),
            ));
            fields.push((
                format!("{bin}_artifact_sha256"),
                format!("{}=", "A".repeat(43)),
            ));
        }
        fields.push(("lambda_architecture".to_owned(), "x86_64".to_owned()));
        args.push(format!("-var=release={}", hcl_object(fields)?));
        Ok(args)
    }

    /// Removes a plan that was applied or turned down (a plan applies once at most).
    pub(super) fn remove_plan(&self, plan_file: &str) {
        if self.dry {
            return;
        }
        let path = crate::project_root().join(self.env.dir()).join(plan_file);
        let _ = std::fs::remove_file(path);
    }

    /// The environment's outputs; placeholders in a dry run.
    pub(super) fn outputs(&self) -> crate::Result<Outputs> {
        self.say(format!(
            "$ terraform {} output -json",
            environment::chdir(self.env)
        ));
        if self.dry {
            return Ok(Outputs {
                api_url: "<api_url>".into(),
                rest_api_id: "<rest_api_id>".into(),
                usage_plan_ids: Default::default(),
                api_function_name: "<api_function_name>".into(),
                worker_function_name: "<worker_function_name>".into(),
                bucket_name: "<bucket_name>".into(),
                table_names: Default::default(),
                queue_url: "<queue_url>".into(),
                gemini_secret_arn: "<gemini_secret_arn>".into(),
            });
        }
        Outputs::read(self.sh, self.env)
    }
}

/// The root variable `release` as an HCL object expression on one line:
/// `{ artifact_bucket = "…", api_artifact_key = "…", …, lambda_architecture = "…" }`, each
/// value a quoted HCL string (quotes, backslashes, control characters and `${`/`%{` escaped).
fn release_object(release: &Release, bucket: &str) -> crate::Result<String> {
    hcl_object(release_fields(release, bucket)?)
}

/// `fields` as a one-line HCL object of strings.
fn hcl_object(fields: Vec<(String, String)>) -> crate::Result<String> {
    let object: hcl::Object<hcl::ObjectKey, hcl::Expression> = fields
        .into_iter()
        .map(|(name, value)| {
            (
                hcl::ObjectKey::Identifier(hcl::Identifier::sanitized(name)),
                hcl::Expression::String(value),
            )
        })
        .collect();
    let mut formatter = hcl::format::Formatter::builder().compact(true).build_vec();
    hcl::format::Format::format_string(&hcl::Expression::Object(object), &mut formatter)
        .context("cannot write the release as HCL")
}

/// The fields of the root variable `release` for `release` in `bucket`, in order.
pub(super) fn release_fields(
    release: &Release,
    bucket: &str,
) -> crate::Result<Vec<(String, String)>> {
    let mut fields = vec![("artifact_bucket".to_owned(), bucket.to_owned())];
    for bin in crate::LAMBDA_BINS {
        let zip = release.zip(bin)?;
        fields.push((format!("{bin}_artifact_key"), zip.key.clone()));
        fields.push((
            format!("{bin}_artifact_sha256"),
            zip.filebase64sha256.clone(),
        ));
    }
    fields.push((
        "lambda_architecture".to_owned(),
        release.manifest.arch.clone(),
    ));
    Ok(fields)
}

/// A command's arguments as a shell line that can be pasted: an argument with characters a
/// shell would read (the quotes and braces of `-var=release={…}`) in single quotes. The
/// `<…>` placeholders of a dry run stay as they are.
fn shell_words(args: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=./:,+@%<>".contains(c);
    args.iter()
        .map(|arg| {
            if !arg.is_empty() && arg.chars().all(plain) {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn terraform_failed(args: &[String]) -> String {
    let subcommand = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map_or("", String::as_str);
    format!("`terraform {subcommand}` failed (its output is above)")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The `release` object as Terraform reads it: attribute → string.
    fn read_release(object: &str) -> BTreeMap<String, String> {
        use hcl::eval::Evaluate;
        let body = hcl::parse(&format!("release = {object}")).unwrap();
        let expr = body.attributes().next().unwrap().expr().clone();
        match expr.evaluate(&hcl::eval::Context::new()).unwrap() {
            hcl::Value::Object(fields) => fields
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
                .collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn the_release_is_one_hcl_object_of_every_artifact() {
        let release = Release::placeholder("3f1c0d9a2b7e", Some(crate::flags::Arch::Arm64));
        let object = release_object(&release, "imagegen-artifacts-123456789012").unwrap();
        assert!(!object.contains('\n'), "{object}");
        let fields = read_release(&object);
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "api_artifact_key",
                "api_artifact_sha256",
                "artifact_bucket",
                "lambda_architecture",
                "worker_artifact_key",
                "worker_artifact_sha256",
            ]
        );
        assert_eq!(fields["artifact_bucket"], "imagegen-artifacts-123456789012");
        assert_eq!(fields["lambda_architecture"], "arm64");
        assert_eq!(fields["api_artifact_key"], release.zip("api").unwrap().key);
        assert_eq!(
            fields["worker_artifact_sha256"],
            release.zip("worker").unwrap().filebase64sha256
        );
    }

    #[test]
    fn release_values_are_quoted_as_hcl_strings() {
        let release = Release::placeholder("3f1c0d9a2b7e", None);
        let odd = "a \"quoted\" \\ ${var.x} %{if} \n\t end";
        let object = release_object(&release, odd).unwrap();
        assert!(!object.contains('\n'), "{object}");
        assert_eq!(read_release(&object)["artifact_bucket"], odd);
    }

    #[test]
    fn a_printed_command_quotes_what_a_shell_would_read() {
        let args = [
            "-chdir=environments/prod".to_owned(),
            "plan".to_owned(),
            r#"-var=release={ a = "it's" }"#.to_owned(),
        ];
        assert_eq!(
            shell_words(&args),
            r#"-chdir=environments/prod plan '-var=release={ a = "it'\''s" }'"#
        );
    }

    #[test]
    fn a_failed_terraform_command_is_named_by_its_subcommand() {
        let args = ["-chdir=environments/prod".to_owned(), "plan".to_owned()];
        assert_eq!(
            terraform_failed(&args),
            "`terraform plan` failed (its output is above)"
        );
    }
}
