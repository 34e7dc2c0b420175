//! Steps 2 and 3, the release in the artifact bucket: build and zip (or read `--zips`), then
//! upload each zip and the manifest once under its content address; or read an earlier
//! release back (`--artifact`) and check its zips are still there.

use anyhow::{Context, anyhow, bail, ensure};

use super::Deploy;
use super::flow::{BUILD, STORED, UPLOAD, ZIPS};
use super::preflight::Preflight;
use super::release::{self, LocalZip, Release};
use crate::aws;

impl Deploy<'_> {
    /// The release to deploy: built, read from `--zips`, or an earlier one (`--artifact`).
    /// New zips are uploaded here.
    pub(super) fn release(&mut self, pre: &Preflight, bucket: &str) -> crate::Result<Release> {
        if let Some(id) = &self.args.artifact {
            self.progress.start(STORED);
            let release = self.stored_release(id, bucket)?;
            self.github_output(&release);
            return Ok(release);
        }
        let arch = self.args.arch.unwrap_or_default();
        let zips = match &self.args.zips {
            Some(dir) => {
                self.progress.start(ZIPS);
                let zips = release::read_zips(dir, arch)?;
                for zip in &zips {
                    self.say(format!(
                        "-> {} ({:.2} MB, sha256 {})",
                        zip.path.display(),
                        zip.data.len() as f64 / 1e6,
                        crate::zip::sha256_hex(&zip.data)
                    ));
                }
                zips
            }
            None => {
                self.progress.start(BUILD);
                self.say(format!("$ cargo xtask zip --arch {}", arch.lambda_name()));
                if self.dry {
                    Vec::new()
                } else {
                    crate::zip::run(self.sh, arch)?
                        .into_iter()
                        .map(|artifact| {
                            let data = std::fs::read(&artifact.zip).with_context(|| {
                                format!("cannot read {}", artifact.zip.display())
                            })?;
                            Ok(LocalZip {
                                bin: artifact.bin,
                                path: artifact.zip,
                                data,
                            })
                        })
                        .collect::<crate::Result<_>>()?
                }
            }
        };
        let release = if self.dry {
            Release::placeholder("<release-id>", Some(arch))
        } else {
            Release::new(arch, &pre.git, &zips)?
        };
        // A plan needs only the keys and hashes; the deploy that applies uploads.
        if self.args.plan_only {
            if !self.dry {
                self.say(format!(
                    "-> release {} (not uploaded: plan only)",
                    release.id
                ));
            }
            self.github_output(&release);
            return Ok(release);
        }

        self.progress.start(UPLOAD);
        for bin in crate::LAMBDA_BINS {
            let data = zips
                .iter()
                .find(|z| z.bin == bin)
                .map(|z| z.data.as_slice());
            self.put_once(bucket, &release.zip(bin)?.key, data, "application/zip")?;
        }
        self.put_once(
            bucket,
            &release::manifest_key(&release.id),
            Some(&release.bytes),
            "application/json",
        )?;
        if !self.dry {
            self.say(format!("-> release {}", release.id));
        }
        self.github_output(&release);
        Ok(release)
    }

    /// Uploads `data` to `key` unless an object is already there (keys are content addresses).
    fn put_once(
        &self,
        bucket: &str,
        key: &str,
        data: Option<&[u8]>,
        content_type: &str,
    ) -> crate::Result<()> {
        let target = format!("s3://{bucket}/{key}");
        self.say(format!("aws s3:HeadObject {target}"));
        if self.dry {
            self.say(format!(
                "aws s3:PutObject {target}  (If-None-Match: *; only when HeadObject finds none)"
            ));
            return Ok(());
        }
        let data = data.with_context(|| format!("internal: nothing to upload to {target}"))?;
        let s3 = &self.aws()?.s3;
        let head = self
            .rt
            .block_on(s3.head_object().bucket(bucket).key(key).send());
        match head {
            Ok(head) => {
                let stored = head.content_length().unwrap_or_default();
                ensure!(
                    stored == data.len() as i64,
                    "{target} holds {stored} bytes, not the {} of the content it is named \
                     after: delete it and deploy again",
                    data.len()
                );
                self.say("-> already there: not uploaded again");
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                self.say(format!("aws s3:PutObject {target}  (If-None-Match: *)"));
                // New objects only (the deploy roles may not replace one): a concurrent deploy
                // that stored the same content address first has stored the same bytes.
                let put = self.rt.block_on(
                    s3.put_object()
                        .bucket(bucket)
                        .key(key)
                        .content_type(content_type)
                        .if_none_match("*")
                        .body(data.to_vec().into())
                        .send(),
                );
                match put {
                    Ok(_) => self.say(format!("-> uploaded {} bytes", data.len())),
                    Err(e) if aws::is_precondition_failed(&e) => {
                        self.say("-> stored meanwhile by another deploy: not uploaded again");
                    }
                    Err(e) => return Err(aws::failed(format!("s3:PutObject {target}"), &e)),
                }
                Ok(())
            }
            Err(e) => Err(aws::failed(format!("s3:HeadObject {target}"), &e)),
        }
    }

    /// An earlier release: its manifest, checked against its ID, and its zips still there.
    fn stored_release(&self, id: &str, bucket: &str) -> crate::Result<Release> {
        let key = release::manifest_key(id);
        let target = format!("s3://{bucket}/{key}");
        self.say(format!("aws s3:GetObject {target}"));
        let release = if self.dry {
            Release::placeholder(id, self.args.arch)
        } else {
            let s3 = &self.aws()?.s3;
            let object = self
                .rt
                .block_on(s3.get_object().bucket(bucket).key(&key).send())
                .map_err(|e| {
                    if e.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                        anyhow!(
                            "no release {id}: {target} does not exist (each deploy prints its \
                             release ID; `aws s3 ls s3://{bucket}/releases/` lists them)"
                        )
                    } else {
                        aws::failed(format!("s3:GetObject {target}"), &e)
                    }
                })?;
            let bytes = self
                .rt
                .block_on(object.body.collect())
                .with_context(|| format!("reading {target} failed"))?
                .into_bytes()
                .to_vec();
            Release::from_stored(id, bytes)?
        };
        for bin in crate::LAMBDA_BINS {
            let zip_key = &release.zip(bin)?.key;
            let zip_target = format!("s3://{bucket}/{zip_key}");
            self.say(format!("aws s3:HeadObject {zip_target}"));
            if !self.dry {
                self.rt
                    .block_on(
                        self.aws()?
                            .s3
                            .head_object()
                            .bucket(bucket)
                            .key(zip_key)
                            .send(),
                    )
                    .map_err(|e| {
                        if e.as_service_error().is_some_and(|e| e.is_not_found()) {
                            anyhow!("release {id} names {zip_target}, which is missing")
                        } else {
                            aws::failed(format!("s3:HeadObject {zip_target}"), &e)
                        }
                    })?;
            }
        }
        if self.dry {
            return Ok(release);
        }
        let manifest = &release.manifest;
        if let Some(arch) = self.args.arch
            && arch.lambda_name() != manifest.arch
        {
            bail!(
                "release {id} is built for {}, not {}: leave out --arch",
                manifest.arch,
                arch.lambda_name()
            );
        }
        self.say(format!(
            "-> release {}: commit {}{}, {}",
            release.short_id(),
            manifest.git_commit,
            if manifest.git_dirty {
                " with uncommitted changes"
            } else {
                ""
            },
            manifest.arch
        ));
        Ok(release)
    }

    /// On GitHub Actions, the release ID as the step output `release` (deploy.yml hands it
    /// from the staging job to the prod jobs).
    fn github_output(&self, release: &Release) {
        self.step_output("release", &release.id);
    }
}
