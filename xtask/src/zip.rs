//! `cargo xtask zip`: byte-reproducible Lambda packages.
//!
//! The same bootstrap always gives the same zip, so Terraform's `source_code_hash` changes
//! only when the code does and a no-op deploy plans "No changes".

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use base64::Engine;
use sha2::{Digest, Sha256};
use xshell::Shell;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::flags::Arch;

/// One packaged function.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bin: &'static str,
    pub zip: PathBuf,
    pub bytes: u64,
    pub sha256_hex: String,
    /// Terraform's `filebase64sha256` of the zip.
    pub sha256_base64: String,
}

/// Builds, then zips every Lambda binary.
pub fn run(sh: &Shell, arch: Arch) -> crate::Result<Vec<Artifact>> {
    crate::build::run(sh, arch)?;
    package_all()
}

/// Zips the bootstraps already built under target/lambda/.
pub fn package_all() -> crate::Result<Vec<Artifact>> {
    let mtime = timestamp_from_env()?;
    let mut artifacts = Vec::new();
    for bin in crate::LAMBDA_BINS {
        let dir = crate::lambda_dir();
        let bootstrap = dir.join(bin).join("bootstrap");
        let zip_path = dir.join(format!("{bin}.zip"));
        let bytes = zip_bootstrap(&bootstrap, mtime)?;
        std::fs::write(&zip_path, &bytes)
            .with_context(|| format!("cannot write {}", zip_path.display()))?;
        let artifact = describe(bin, zip_path, &bytes);
        let sums = format!(
            "sha256: {}\nfilebase64sha256: {}\n",
            artifact.sha256_hex, artifact.sha256_base64
        );
        std::fs::write(dir.join(format!("{bin}.zip.sha256")), sums)?;
        println!(
            "zipped {}: {} ({:.2} MB)\n  sha256           {}\n  filebase64sha256 {}",
            artifact.bin,
            artifact.zip.display(),
            artifact.bytes as f64 / 1e6,
            artifact.sha256_hex,
            artifact.sha256_base64
        );
        artifacts.push(artifact);
    }
    Ok(artifacts)
}

fn describe(bin: &'static str, zip: PathBuf, bytes: &[u8]) -> Artifact {
    Artifact {
        bin,
        zip,
        bytes: bytes.len() as u64,
        sha256_hex: sha256_hex(bytes),
        sha256_base64: filebase64sha256(bytes),
    }
}

/// The SHA-256 of `bytes` in lowercase hex: content addresses and release IDs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Terraform's `filebase64sha256`: standard base64 of the raw SHA-256 digest.
pub fn filebase64sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// `SOURCE_DATE_EPOCH` when set (reproducible-builds.org), else the zip epoch, 1980-01-01.
fn timestamp_from_env() -> crate::Result<DateTime> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => {
            let secs: i64 = value.trim().parse().ok().with_context(|| {
                format!("SOURCE_DATE_EPOCH=`{value}` is not a number of seconds")
            })?;
            dos_time_from_unix(secs)
        }
        Err(_) => Ok(DateTime::default()),
    }
}

/// Converts Unix seconds to a zip (MS-DOS) timestamp, which spans 1980..=2107 in 2 s steps.
fn dos_time_from_unix(secs: i64) -> crate::Result<DateTime> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    u16::try_from(year)
        .ok()
        .and_then(|year| {
            DateTime::from_date_and_time(
                year,
                month as u8,
                day as u8,
                (rem / 3_600) as u8,
                (rem % 3_600 / 60) as u8,
                (rem % 60) as u8,
            )
            .ok()
        })
        .with_context(|| {
            format!("SOURCE_DATE_EPOCH={secs} is outside the zip date range 1980..2107")
        })
}

/// The zip bytes: one entry `bootstrap`, mode 0755, fixed time, fixed compression.
pub fn zip_bootstrap(bootstrap: &Path, mtime: DateTime) -> crate::Result<Vec<u8>> {
    let data = std::fs::read(bootstrap).map_err(|e| {
        anyhow!(
            "cannot read {}: {e} (run `cargo xtask build` first)",
            bootstrap.display()
        )
    })?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(mtime)
        .unix_permissions(0o755)
        .large_file(false);
    let mut writer = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(&data)?;
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn fixture(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::TempDir::with_prefix("xtask-zip-").unwrap();
        let path = dir.path().join("bootstrap");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn two_runs_over_the_same_binary_give_identical_bytes() {
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (_dir, path) = fixture(&content);
        let first = zip_bootstrap(&path, DateTime::default()).unwrap();
        // A later mtime on disk must not leak into the archive.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(&path, &content).unwrap();
        let second = zip_bootstrap(&path, DateTime::default()).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            describe("api", path.clone(), &first).sha256_hex,
            describe("api", path, &second).sha256_hex
        );
    }

    #[test]
    fn the_archive_holds_only_an_executable_bootstrap_with_the_fixed_time() {
        let (_dir, path) = fixture(b"\x7fELF pretend");
        let mtime = dos_time_from_unix(1_700_000_000).unwrap();
        let bytes = zip_bootstrap(&path, mtime).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
        let t = entry.last_modified().unwrap();
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (2023, 11, 14, 22, 13)
        );
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"\x7fELF pretend");
    }

    #[test]
    fn filebase64sha256_matches_terraforms_encoding() {
        // Terraform's filebase64sha256 is standard base64 of the raw SHA-256 digest.
        let a = describe("api", PathBuf::new(), b"");
        assert_eq!(
            a.sha256_hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            a.sha256_base64,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn source_date_epoch_outside_the_zip_range_is_refused() {
        assert!(dos_time_from_unix(0).is_err());
        assert!(dos_time_from_unix(315_532_800).is_ok()); // 1980-01-01
    }
}
