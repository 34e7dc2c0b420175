//! A release: the two Lambda zips of one build and a manifest naming them, all stored in the
//! artifact bucket under their content address.
//!
//! - `lambda/<sha256 hex of the zip>.zip` for each function;
//! - `releases/<release id>.json`, the manifest: the zips' keys and hashes, the architecture
//!   and the git commit. The release ID is the SHA-256 of the manifest's bytes, so an ID names
//!   exactly one manifest, and the manifest exactly one pair of zips.
//!
//! `cargo xtask deploy --artifact <release id>` reads the manifest back instead of building:
//! that is how CI deploys to prod what it deployed to staging, and how a rollback redeploys an
//! earlier release.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::flags::Arch;
use crate::zip::{filebase64sha256, sha256_hex};

/// The manifest's layout version.
const FORMAT: u32 = 1;

/// One function's zip as a release names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionZip {
    /// `lambda/<sha256>.zip` in the artifact bucket.
    pub key: String,
    /// Hex SHA-256 of the zip.
    pub sha256: String,
    /// Terraform's `filebase64sha256` of the zip (Lambda's `CodeSha256`).
    pub filebase64sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// Lambda's name of the architecture: `x86_64` or `arm64`.
    pub arch: String,
    pub git_commit: String,
    /// Whether the tree had uncommitted changes when it was built (never for prod).
    pub git_dirty: bool,
    /// By function: `api`, `worker`.
    pub functions: BTreeMap<String, FunctionZip>,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub manifest: Manifest,
    /// The manifest as stored; its SHA-256 is `id`.
    pub bytes: Vec<u8>,
}

/// A zip on this machine, about to be uploaded.
#[derive(Debug, Clone)]
pub struct LocalZip {
    pub bin: &'static str,
    pub path: PathBuf,
    pub data: Vec<u8>,
}

/// The git state a release records.
#[derive(Debug, Clone)]
pub struct Git {
    pub commit: String,
    pub dirty: bool,
}

/// The manifest's key in the artifact bucket.
pub fn manifest_key(id: &str) -> String {
    format!("releases/{id}.json")
}

/// A zip's content address in the artifact bucket.
pub fn zip_key(sha256_hex: &str) -> String {
    format!("lambda/{sha256_hex}.zip")
}

/// Whether `id` can be a release ID: 64 lowercase hex digits.
pub fn check_id(id: &str) -> crate::Result<()> {
    ensure!(
        id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "--artifact `{id}` is not a release ID (64 lowercase hex digits, as printed by a deploy)"
    );
    Ok(())
}

impl Release {
    /// The release of freshly built (or given) zips.
    pub fn new(arch: Arch, git: &Git, zips: &[LocalZip]) -> crate::Result<Self> {
        let functions = zips
            .iter()
            .map(|zip| {
                let sha256 = sha256_hex(&zip.data);
                let entry = FunctionZip {
                    key: zip_key(&sha256),
                    sha256,
                    filebase64sha256: filebase64sha256(&zip.data),
                    bytes: zip.data.len() as u64,
                };
                (zip.bin.to_owned(), entry)
            })
            .collect();
        let manifest = Manifest {
            format: FORMAT,
            arch: arch.lambda_name().to_owned(),
            git_commit: git.commit.clone(),
            git_dirty: git.dirty,
            functions,
        };
        let mut bytes = serde_json::to_vec_pretty(&manifest)?;
        bytes.push(b'\n');
        Ok(Self {
            id: sha256_hex(&bytes),
            manifest,
            bytes,
        })
    }

    /// A manifest read back from the artifact bucket, checked against its ID.
    pub fn from_stored(id: &str, bytes: Vec<u8>) -> crate::Result<Self> {
        let key = manifest_key(id);
        let actual = sha256_hex(&bytes);
        ensure!(
            actual == id,
            "{key} does not hash to its ID (its SHA-256 is {actual}): it was altered; deploy \
             another release"
        );
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{key} is not a release manifest"))?;
        ensure!(
            manifest.format == FORMAT,
            "{key} has format {}; this xtask reads format {FORMAT}",
            manifest.format
        );
        for bin in crate::LAMBDA_BINS {
            let zip = manifest
                .functions
                .get(bin)
                .with_context(|| format!("{key} names no `{bin}` zip"))?;
            ensure!(
                zip.key == zip_key(&zip.sha256),
                "{key}: the {bin} zip's key {} is not its content address",
                zip.key
            );
        }
        Ok(Self {
            id: id.to_owned(),
            manifest,
            bytes,
        })
    }

    /// A stand-in for a dry run, which learns nothing from AWS: every value is a placeholder
    /// (`id` is the `--artifact` given, or `<release-id>`).
    pub fn placeholder(id: &str, arch: Option<Arch>) -> Self {
        let functions = crate::LAMBDA_BINS
            .iter()
            .map(|bin| {
                let zip = FunctionZip {
                    key: zip_key(&format!("<{bin}-zip-sha256>")),
                    sha256: format!("<{bin}-zip-sha256>"),
                    filebase64sha256: format!("<{bin}-zip-filebase64sha256>"),
                    bytes: 0,
                };
                ((*bin).to_owned(), zip)
            })
            .collect();
        Self {
            id: id.to_owned(),
            manifest: Manifest {
                format: FORMAT,
                arch: arch.map_or("<release-arch>", Arch::lambda_name).to_owned(),
                git_commit: "<git-commit>".into(),
                git_dirty: false,
                functions,
            },
            bytes: Vec::new(),
        }
    }

    /// The zip of `bin` (every release has one per Lambda binary).
    pub fn zip(&self, bin: &str) -> crate::Result<&FunctionZip> {
        self.manifest
            .functions
            .get(bin)
            .with_context(|| format!("release {} has no `{bin}` zip", self.id))
    }

    /// The first 12 digits, for file names and messages.
    pub fn short_id(&self) -> &str {
        self.id
            .get(..12)
            .filter(|_| !self.id.starts_with('<'))
            .unwrap_or(&self.id)
    }
}

/// The zips `cargo xtask zip` left in `dir`; each must hold a `bootstrap`, and an ELF bootstrap
/// must be built for `arch`.
pub fn read_zips(dir: &Path, arch: Arch) -> crate::Result<Vec<LocalZip>> {
    crate::LAMBDA_BINS
        .iter()
        .map(|bin| {
            let path = dir.join(format!("{bin}.zip"));
            let data = std::fs::read(&path).map_err(|e| {
                anyhow!(
                    "cannot read {}: {e} (make the zips with `cargo xtask zip`)",
                    path.display()
                )
            })?;
            check_zip(&path, &data, arch)?;
            Ok(LocalZip { bin, path, data })
        })
        .collect()
}

fn check_zip(path: &Path, data: &[u8], arch: Arch) -> crate::Result<()> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .with_context(|| format!("{} is not a zip", path.display()))?;
    let mut entry = archive
        .by_name("bootstrap")
        .ok()
        .with_context(|| format!("{} has no `bootstrap` entry", path.display()))?;
    let mut head = Vec::new();
    entry.by_ref().take(64).read_to_end(&mut head)?;
    match crate::elf::arch(&head) {
        Some(built) if built != arch => bail!(
            "{} holds a bootstrap built for {}, not {}: pass --arch {}",
            path.display(),
            built.lambda_name(),
            arch.lambda_name(),
            built.lambda_name()
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zips() -> Vec<LocalZip> {
        crate::LAMBDA_BINS
            .iter()
            .map(|bin| LocalZip {
                bin,
                path: PathBuf::from(format!("{bin}.zip")),
                data: format!("zip of {bin}").into_bytes(),
            })
            .collect()
    }

    fn git() -> Git {
        Git {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: false,
        }
    }

    #[test]
    fn a_release_is_addressed_by_its_manifest_and_reads_back() {
        let release = Release::new(Arch::X86_64, &git(), &zips()).unwrap();
        assert_eq!(release.id, sha256_hex(&release.bytes));
        assert_eq!(release.short_id().len(), 12);
        let api = release.zip("api").unwrap();
        assert_eq!(api.key, format!("lambda/{}.zip", sha256_hex(b"zip of api")));
        assert_eq!(api.filebase64sha256.len(), 44);

        // The same zips and commit give the same ID: uploading again changes nothing.
        let again = Release::new(Arch::X86_64, &git(), &zips()).unwrap();
        assert_eq!(again.id, release.id);
        let other_arch = Release::new(Arch::Arm64, &git(), &zips()).unwrap();
        assert_ne!(other_arch.id, release.id);

        let stored = Release::from_stored(&release.id, release.bytes.clone()).unwrap();
        assert_eq!(stored.manifest, release.manifest);
    }

    #[test]
    fn a_manifest_that_does_not_match_its_id_is_refused() {
        let release = Release::new(Arch::X86_64, &git(), &zips()).unwrap();
        let mut altered = release.bytes.clone();
        altered[10] ^= 1;
        let error = Release::from_stored(&release.id, altered)
            .unwrap_err()
            .to_string();
        assert!(error.contains("altered"), "{error}");
    }

    #[test]
    fn release_ids_are_64_hex_digits() {
        assert!(check_id(&"a".repeat(64)).is_ok());
        assert!(check_id("abc").is_err());
        assert!(check_id(&"A".repeat(64)).is_err());
        assert!(check_id(&format!("{}.json", "a".repeat(59))).is_err());
    }
}
