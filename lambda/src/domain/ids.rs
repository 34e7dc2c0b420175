//! Identifiers and the randomness behind them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; nothing can run then.
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("operating system randomness unavailable: {e}");
    }
    buf
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters of [0-9A-Za-z], unbiased (rejection sampling).
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<64>() {
            // 248 = 62 * 4: values above are rejected so every character is equally likely.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, hex(&random_bytes::<16>())))
            }

            /// Accepts only ids of our own shape, so a bad id is a 4xx before any lookup.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                (rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                    .then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not a valid {}: {s}", stringify!($name)))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

prefixed_id!(JobId, "job_", "A job's id: `job_` and 32 hex digits.");
prefixed_id!(
    UploadId,
    "upl_",
    "A reference upload's id: `upl_` and 32 hex digits."
);

pub const MAX_TENANT_LEN: usize = 64;
/// [`valid_tenant`] as the OpenAPI document states it.
pub const TENANT_PATTERN: &str = "^[a-z0-9_-]{1,64}$";
/// The shape of [`JobId`] and [`UploadId`] after their prefix, for the document's patterns.
pub const ID_HEX_PATTERN: &str = "[0-9a-f]{32}";

/// A tenant name: 1..=64 of [a-z0-9_-], chosen by the admin who creates keys.
pub fn valid_tenant(s: &str) -> bool {
    (1..=MAX_TENANT_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_shapes() {
        let id = JobId::generate();
        assert_eq!(JobId::parse(id.as_str()), Some(id.clone()));
        assert!(JobId::parse("job_123").is_none());
        assert!(JobId::parse(&id.as_str().replace("job_", "upl_")).is_none());
        assert!(JobId::parse(&id.as_str().to_uppercase()).is_none());
        assert!(UploadId::parse(UploadId::generate().as_str()).is_some());
    }

    #[test]
    fn base62_has_the_requested_length_and_alphabet() {
        let s = random_base62(40);
        assert_eq!(s.len(), 40);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s, random_base62(40));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            from_hex(&hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn tenants_are_plain_names() {
        assert!(valid_tenant("acme-co_1"));
        assert!(!valid_tenant(""));
        assert!(!valid_tenant("Acme"));
        assert!(!valid_tenant("a/b"));
        assert!(!valid_tenant(&"a".repeat(65)));
    }
}
