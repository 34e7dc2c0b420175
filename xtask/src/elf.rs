//! Reads what an ELF binary needs from its host: the glibc symbol versions, so a binary that
//! would fail to start on Lambda's `provided.al2023` (glibc 2.34) is refused at build time, and
//! the machine it was built for, so an arm64 zip is never shipped as x86_64.

use std::fmt;

use anyhow::Context;
use object::read::elf::FileHeader;

use crate::flags::Arch;

/// The newest glibc of Lambda's `provided.al2023` runtime.
pub const LAMBDA_MAX_GLIBC: GlibcVersion = GlibcVersion(2, 34, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub u32, pub u32, pub u32);

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            patch => write!(f, "{}.{}.{patch}", self.0, self.1),
        }
    }
}

impl GlibcVersion {
    /// Parses a version-need name such as `GLIBC_2.34`; `GLIBC_PRIVATE` and others are None.
    pub fn from_symbol_version(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        parts.next().is_none().then_some(Self(major, minor, patch))
    }
}

/// The newest `GLIBC_x.y` version the binary needs, if it links glibc at all.
pub fn max_glibc_needed(data: &[u8]) -> crate::Result<Option<GlibcVersion>> {
    let header = object::elf::FileHeader64::<object::Endianness>::parse(data)
        .context("not a 64-bit ELF file")?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut newest = None;
    let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, data, link)?;
    while let Some((_need, mut auxes)) = needs.next()? {
        while let Some(aux) = auxes.next()? {
            let name = String::from_utf8_lossy(aux.name(endian, strings)?);
            if let Some(v) = GlibcVersion::from_symbol_version(&name) {
                newest = newest.max(Some(v));
            }
        }
    }
    Ok(newest)
}

/// The architecture of a 64-bit ELF file from its header (the first 64 bytes suffice); None
/// for anything else, as a `bootstrap` may be a script. Deploy checks a stored release with it
/// (the AWS toolkit only).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub fn arch(head: &[u8]) -> Option<Arch> {
    let header = object::elf::FileHeader64::<object::Endianness>::parse(head).ok()?;
    match header.e_machine(header.endian().ok()?) {
        object::elf::EM_X86_64 => Some(Arch::X86_64),
        object::elf::EM_AARCH64 => Some(Arch::Arm64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_symbol_versions() {
        assert_eq!(
            GlibcVersion::from_symbol_version("GLIBC_2.34"),
            Some(GlibcVersion(2, 34, 0))
        );
        assert_eq!(
            GlibcVersion::from_symbol_version("GLIBC_2.2.5"),
            Some(GlibcVersion(2, 2, 5))
        );
        assert_eq!(GlibcVersion::from_symbol_version("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::from_symbol_version("GCC_3.0"), None);
        assert!(GlibcVersion(2, 35, 0) > LAMBDA_MAX_GLIBC);
        assert!(GlibcVersion(2, 2, 5) < LAMBDA_MAX_GLIBC);
    }

    #[test]
    fn reads_the_version_needs_of_a_real_binary() {
        // This test binary is a glibc-linked ELF built on this machine.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let v = max_glibc_needed(&exe).unwrap().unwrap();
        assert!(v >= GlibcVersion(2, 2, 5), "{v}");
    }

    #[test]
    fn an_elf_bootstrap_must_match_the_architecture() {
        // This test binary is an ELF for the host; only the header is read.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let (host, other, other_machine) = if cfg!(target_arch = "aarch64") {
            (Arch::Arm64, Arch::X86_64, object::elf::EM_X86_64)
        } else {
            (Arch::X86_64, Arch::Arm64, object::elf::EM_AARCH64)
        };
        assert_eq!(arch(&exe[..64]), Some(host));
        let mut patched = exe[..64].to_vec();
        patched[18..20].copy_from_slice(&other_machine.to_le_bytes());
        assert_eq!(arch(&patched), Some(other));
        assert_eq!(arch(b"#!/bin/sh\n"), None);
        assert_eq!(arch(&exe[..20]), None, "a truncated header is not an ELF");
    }

    #[test]
    fn refuses_non_elf_input() {
        assert!(max_glibc_needed(b"#!/bin/sh\necho hi\n").is_err());
    }
}
