//! The three checksums the AWS SDK's S3 client computes (aws-smithy-checksums: CRC-32,
//! CRC-32C, CRC-64/NVME), behind the part of crc-fast's API it calls.
//!
//! Why not crc-fast itself: its table-driven fallback matches on all 50 algorithms it knows,
//! so every one of their lookup tables (664 KB, nearly incompressible) was linked into both
//! Lambda binaries, about 0.6 MB of each zip (upstream: awesomized/crc-fast-rust#61).
//!
//! CRC-32 is crc32fast (SIMD where the CPU has it; the default S3 upload checksum). CRC-32C
//! and CRC-64/NVME, which S3 stamps on objects uploaded without a checksum and the SDK then
//! checks on download, are slice-by-8 over tables built at compile time (32 KB together).

/// The algorithms aws-smithy-checksums asks for; crc-fast's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcAlgorithm {
    /// CRC-32 (zlib, PNG, S3 `x-amz-checksum-crc32`).
    Crc32IsoHdlc,
    /// CRC-32C (S3 `x-amz-checksum-crc32c`).
    Crc32Iscsi,
    /// CRC-64/NVME (S3 `x-amz-checksum-crc64nvme`).
    Crc64Nvme,
}

/// A running checksum.
#[derive(Debug, Clone)]
pub struct Digest {
    algorithm: CrcAlgorithm,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    /// Reflected registers, before the final XOR (CRC-32C's in the low half).
    Crc32c(u64),
    Crc64Nvme(u64),
}

impl Digest {
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        let state = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => State::Crc32(crc32fast::Hasher::new()),
            CrcAlgorithm::Crc32Iscsi => State::Crc32c(u64::from(u32::MAX)),
            CrcAlgorithm::Crc64Nvme => State::Crc64Nvme(u64::MAX),
        };
        Self { algorithm, state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(hasher) => hasher.update(data),
            State::Crc32c(register) => {
                *register = slice8_update(*register, data, &CRC32C_TABLES);
            }
            State::Crc64Nvme(register) => {
                *register = slice8_update(*register, data, &CRC64_NVME_TABLES);
            }
        }
    }

    /// The checksum of everything so far; the digest can keep going.
    pub fn finalize(&self) -> u64 {
        match &self.state {
            State::Crc32(hasher) => u64::from(hasher.clone().finalize()),
            State::Crc32c(register) => register ^ u64::from(u32::MAX),
            State::Crc64Nvme(register) => !register,
        }
    }

    pub fn reset(&mut self) {
        *self = Self::new(self.algorithm);
    }
}

/// The checksum of `data` in one call.
pub fn checksum(algorithm: CrcAlgorithm, data: &[u8]) -> u64 {
    let mut digest = Digest::new(algorithm);
    digest.update(data);
    digest.finalize()
}

/// Reflected polynomials (bit-reversed 0x1EDC6F41 and 0xAD93D23594C93659). A reflected CRC
/// shifts right, so the 32-bit one runs in a 64-bit register unchanged and both share code.
const CRC32C_POLY: u64 = 0x82F6_3B78;
const CRC64_NVME_POLY: u64 = 0x9A6C_9329_AC4B_C9B5;

static CRC32C_TABLES: [[u64; 256]; 8] = slice8_tables(CRC32C_POLY);
static CRC64_NVME_TABLES: [[u64; 256]; 8] = slice8_tables(CRC64_NVME_POLY);

/// Slice-by-8 tables: `[0]` is the classic byte table, `[k]` advances it by k more zero bytes.
const fn slice8_tables(poly: u64) -> [[u64; 256]; 8] {
    let mut tables = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[k - 1][i];
            tables[k][i] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// Eight bytes per step: byte j of a block goes through table 7 - j.
fn slice8_update(mut crc: u64, data: &[u8], tables: &[[u64; 256]; 8]) -> u64 {
    let byte = |x: u64, j: u32| ((x >> (8 * j)) & 0xff) as usize;
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let x = crc ^ u64::from_le_bytes(word);
        crc = (0..8).fold(0, |acc, j| acc ^ tables[7 - j as usize][byte(x, j)]);
    }
    for &b in blocks.remainder() {
        crc = (crc >> 8) ^ tables[0][byte(crc ^ u64::from(b), 0)];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CrcAlgorithm; 3] = [
        CrcAlgorithm::Crc32IsoHdlc,
        CrcAlgorithm::Crc32Iscsi,
        CrcAlgorithm::Crc64Nvme,
    ];

    /// The catalogue's check values (CRC of "123456789"), which crc-fast also tests against.
    #[test]
    fn check_values() {
        assert_eq!(
            checksum(CrcAlgorithm::Crc32IsoHdlc, b"123456789"),
            0xCBF4_3926
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc32Iscsi, b"123456789"),
            0xE306_9283
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888
        );
        for algorithm in ALL {
            assert_eq!(checksum(algorithm, b""), 0, "{algorithm:?}");
        }
    }

    /// Every length around the 8-byte blocks against the bit-at-a-time definition.
    #[test]
    fn slicing_matches_the_bitwise_definition() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 999, 1000] {
            let part = &data[..len];
            assert_eq!(
                checksum(CrcAlgorithm::Crc32Iscsi, part),
                bitwise(CRC32C_POLY, u64::from(u32::MAX), part),
                "crc32c of {len} bytes"
            );
            assert_eq!(
                checksum(CrcAlgorithm::Crc64Nvme, part),
                bitwise(CRC64_NVME_POLY, u64::MAX, part),
                "crc64nvme of {len} bytes"
            );
        }
    }

    #[test]
    fn updates_in_pieces_equal_one_pass_and_finalize_does_not_end_the_digest() {
        let data: Vec<u8> = (0..4099u32).map(|i| (i % 251) as u8).collect();
        for algorithm in ALL {
            let mut digest = Digest::new(algorithm);
            for piece in data.chunks(333) {
                digest.update(piece);
                let _ = digest.finalize();
            }
            assert_eq!(
                digest.finalize(),
                checksum(algorithm, &data),
                "{algorithm:?}"
            );
            digest.reset();
            assert_eq!(digest.finalize(), checksum(algorithm, b""), "{algorithm:?}");
        }
    }

    fn bitwise(poly: u64, mask: u64, data: &[u8]) -> u64 {
        let mut crc = mask;
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        crc ^ mask
    }
}
