//! Crafted files from an attack on `prepare_reference` (tests/hostile/, see its README): each must
//! get the right answer (nearly always an error), without the allocations it was built to cause.
//!
//! One test, cases in turn: the counting allocator's peak covers the whole process and cannot
//! be reset, so it is checked after every case; it only grows, so a case that allocates too
//! much fails right there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use imagegen_images::{ImageError, ImageLimits, prepare_reference};

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// What each of these small files may cost at most: their whole point was to make a decoder
/// allocate hundreds of megabytes.
const PEAK_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Prepared: what the attack claims is never read.
    Prepared,
    Corrupt,
    TooLarge,
    /// `UnsupportedFeature`, whose message names this.
    Unsupported(&'static str),
}

const CASES: &[(&str, Expect)] = &[
    // Attack 1: inspect() bounds the first frame header, the decoder kept the second.
    ("jpeg_second_sof_65535.jpg", Expect::Corrupt),
    ("jpeg_second_sof_65535x30000.jpg", Expect::Corrupt),
    // ... and zune-jpeg meets a second one between progressive scans.
    (
        "jpeg_progressive_second_sof_after_scan.jpg",
        Expect::Corrupt,
    ),
    // Attack 3: within max_pixels, beyond what a full decode may hold.
    (
        "jpeg_progressive_12000x3333_over_budget.jpg",
        Expect::TooLarge,
    ),
    (
        "png_16bit_rgba_12000x3333_over_budget.png",
        Expect::TooLarge,
    ),
    // Chunk lengths past the end of the file: the PNG decoder must not trust them either.
    ("png_iccp_chunk_claims_2gib.png", Expect::Corrupt),
    // After complete image data: never read, the image is fine.
    ("png_exif_chunk_claims_4gib.png", Expect::Prepared),
    // Attack 4: separate component scans, which zune-jpeg decodes to wrong colours.
    (
        "jpeg_separate_component_scans.jpg",
        Expect::Unsupported("separate component scans"),
    ),
    // Attack 5: codings no decoder here handles are 415, not 400.
    ("jpeg_12bit.jpg", Expect::Unsupported("12-bit")),
    ("jpeg_16bit.jpg", Expect::Unsupported("16-bit")),
    ("jpeg_arithmetic.jpg", Expect::Unsupported("arithmetic")),
    (
        "jpeg_arithmetic_sof9_header.jpg",
        Expect::Unsupported("arithmetic"),
    ),
    ("jpeg_lossless_sof3.jpg", Expect::Unsupported("lossless")),
    (
        "jpeg_hierarchical_dhp.jpg",
        Expect::Unsupported("hierarchical"),
    ),
    // Attack 2: WebP containers whose inner sizes disagree with the canvas or the file.
    ("webp_vp8x_canvas_vs_vp8l_frame.webp", Expect::Corrupt),
    ("webp_vp8x_canvas_vs_vp8_frame.webp", Expect::Corrupt),
    ("webp_anmf_frame_outside_canvas.webp", Expect::Corrupt),
    (
        "webp_anmf_bitstream_larger_than_frame.webp",
        Expect::Corrupt,
    ),
    ("webp_exif_chunk_claims_4gib.webp", Expect::Corrupt),
    ("webp_iccp_chunk_beyond_file.webp", Expect::Corrupt),
    ("webp_riff_size_beyond_file.webp", Expect::Corrupt),
];

fn outcome(error: &ImageError) -> String {
    format!("{} ({error})", error.issue())
}

#[test]
fn hostile_files_are_refused_cheaply() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile");
    // Every file has an expectation here: a file added without one fails the test.
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("tests/hostile")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "README.md")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(name, _)| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/hostile and CASES differ");

    let limits = ImageLimits::default();
    let mut failures = Vec::new();
    for (name, expect) in CASES {
        let bytes = std::fs::read(format!("{dir}/{name}")).expect("read");
        let result = prepare_reference(&bytes, &limits);
        let peak = ALLOCATOR.max_allocated();
        let matches = match (&result, expect) {
            (Ok(_), Expect::Prepared) => true,
            (Err(ImageError::Corrupt(_)), Expect::Corrupt) => true,
            (Err(ImageError::TooLarge { .. }), Expect::TooLarge) => true,
            (Err(e @ ImageError::UnsupportedFeature(what)), Expect::Unsupported(needle)) => {
                e.is_unsupported() && e.issue() == "unsupported_format" && what.contains(needle)
            }
            _ => false,
        };
        let got = match &result {
            Ok(image) => format!("Ok {}x{}", image.width, image.height),
            Err(e) => outcome(e),
        };
        println!(
            "{name:<46} {:>5} bytes  peak so far {:>7.2} MB  {got}",
            bytes.len(),
            peak as f64 / 1e6
        );
        if !matches {
            failures.push(format!("{name}: expected {expect:?}, got {got}"));
        }
        if peak > PEAK_LIMIT {
            failures.push(format!("{name}: peak allocation {peak} bytes"));
            break;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
