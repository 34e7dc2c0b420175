//! Reads the glibc symbol versions an ELF binary needs, so a binary that would fail to start
//! on Lambda's `provided.al2023` (glibc 2.34) is refused at build time, not at deploy time.

use std::fmt;

use object::read::elf::FileHeader;

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
        .map_err(|e| format!("not a 64-bit ELF file: {e}"))?;
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
    fn refuses_non_elf_input() {
        assert!(max_glibc_needed(b"#!/bin/sh\necho hi\n").is_err());
    }
}
