//! Peak heap of preparing the largest image each path accepts, against `MEMORY_BUDGET`.
//!
//! Each case runs in a child process of its own: the counting allocator's peak cannot be reset,
//! and generating an input costs more than preparing it. The parent generates the input, writes
//! it to a temporary file and starts this binary again with the file's path; the child reads it,
//! prepares it and prints its peak, which thus includes the input bytes as the service holds
//! them. `cargo test -p imagegen-images --test memory -- --nocapture` prints the table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use imagegen_images::{ImageLimits, MEMORY_BUDGET, prepare_reference};

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

const CASE_FILE: &str = "IMAGEGEN_MEMORY_CASE_FILE";

/// Smooth colour with some texture: what a photo looks like to the decoders (their buffers
/// depend on the dimensions, not the content). The fourth channel is CMYK's K.
fn pixels(width: u32, height: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width as usize * height as usize * channels);
    for y in 0..height {
        for x in 0..width {
            let texture = ((x * 7 + y * 13) % 17) as u8;
            let px = [
                (x % 256) as u8 ^ texture,
                (y % 256) as u8,
                ((x + y) % 256) as u8,
                255,
            ];
            out.extend_from_slice(&px[..channels]);
        }
    }
    out
}

fn jpeg(
    (width, height): (u32, u32),
    color: jpeg_encoder::ColorType,
    channels: usize,
    progressive: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    encoder.set_progressive(progressive);
    encoder
        .encode(
            &pixels(width, height, channels),
            width as u16,
            height as u16,
            color,
        )
        .expect("encode JPEG");
    out
}

fn png((width, height): (u32, u32), sixteen_bit: bool) -> Vec<u8> {
    use image::ImageEncoder;
    // Coarse steps, so the file stays under `max_bytes`; alpha varies, so it takes the
    // transparent (PNG out, premultiplied resize) path.
    let rgba: Vec<u8> = (0..height)
        .flat_map(|y| {
            (0..width).flat_map(move |x| {
                [
                    (x / 16 % 256) as u8,
                    (y / 16 % 256) as u8,
                    ((x + y) / 64 % 256) as u8,
                    64 + ((x / 64) % 128) as u8,
                ]
            })
        })
        .collect();
    let (data, color) = if sixteen_bit {
        // Each 8-bit sample twice, big endian as PNG stores it; `write_image` wants native u16s.
        let wide: Vec<u8> = rgba
            .iter()
            .flat_map(|v| u16::from_be_bytes([*v, *v]).to_ne_bytes())
            .collect();
        (wide, image::ExtendedColorType::Rgba16)
    } else {
        (rgba, image::ExtendedColorType::Rgba8)
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Default,
        image::codecs::png::FilterType::Sub,
    )
    .write_image(&data, width, height, color)
    .expect("encode PNG");
    out
}

struct Case {
    format: &'static str,
    input: String,
    make: Box<dyn Fn() -> Vec<u8> + Send + Sync>,
}

/// The largest input of each kind that the default limits accept (see `ImageLimits`).
fn cases() -> Vec<Case> {
    use jpeg_encoder::ColorType;
    let data = |name: &'static str| -> Box<dyn Fn() -> Vec<u8> + Send + Sync> {
        Box::new(move || {
            std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
                .expect("fixture")
        })
    };
    // Cost per pixel and `max_decode_memory` give each full decode's largest size.
    let budget = ImageLimits::default().max_decode_memory;
    let max = |bytes_per_pixel: u64, aspect: f64| -> (u32, u32) {
        let pixels = (budget / bytes_per_pixel) as f64;
        let height = (pixels / aspect).sqrt().floor() as u32;
        let width = (f64::from(height) * aspect).floor() as u32;
        (width, height)
    };
    let baseline = (7300, 5479); // 40.0 MP, the pixel limit
    let progressive = max(3 + 2 * 3 + 1, 4.0 / 3.0);
    let cmyk = max(3 + 2 * 4 + 1, 4.0 / 3.0);
    // Baseline, but not for the scaled decoder (it takes Y and YCbCr only): a full decode.
    let cmyk_baseline = max(3 + 1, 4.0 / 3.0);
    let rgba8 = max(4 + 4 + 1, 4.0 / 3.0);
    let rgba16 = max(8 + 4 + 1, 4.0 / 3.0);
    let wide16 = max(8 + 4 + 1, 3.6);
    let describe = |what: &str, (w, h): (u32, u32)| {
        format!("{what} {w}x{h} ({:.1} MP)", f64::from(w * h) / 1e6)
    };
    vec![
        Case {
            format: "JPEG baseline 4:4:4",
            input: describe("generated", baseline),
            make: Box::new(move || jpeg(baseline, ColorType::Rgb, 3, false)),
        },
        Case {
            format: "JPEG progressive 4:4:4",
            input: describe("generated", progressive),
            make: Box::new(move || jpeg(progressive, ColorType::Rgb, 3, true)),
        },
        Case {
            format: "JPEG CMYK baseline",
            input: describe("generated", cmyk_baseline),
            make: Box::new(move || jpeg(cmyk_baseline, ColorType::Cmyk, 4, false)),
        },
        Case {
            format: "JPEG CMYK progressive",
            input: describe("generated", cmyk),
            make: Box::new(move || jpeg(cmyk, ColorType::Cmyk, 4, true)),
        },
        Case {
            format: "PNG 8-bit RGBA",
            input: describe("generated", rgba8),
            make: Box::new(move || png(rgba8, false)),
        },
        Case {
            format: "PNG 16-bit RGBA",
            input: describe("generated", rgba16),
            make: Box::new(move || png(rgba16, true)),
        },
        Case {
            format: "PNG 16-bit RGBA, wide",
            input: describe("generated", wide16),
            make: Box::new(move || png(wide16, true)),
        },
        Case {
            format: "WebP lossy + alpha",
            input: "max_lossy_alpha_4160x3125.webp (13.0 MP)".into(),
            make: data("max_lossy_alpha_4160x3125.webp"),
        },
        Case {
            format: "WebP lossless + alpha",
            input: "max_lossless_alpha_4160x3125.webp (13.0 MP)".into(),
            make: data("max_lossless_alpha_4160x3125.webp"),
        },
        Case {
            format: "WebP animated",
            input: "max_animated_3650x2739.webp (10.0 MP)".into(),
            make: data("max_animated_3650x2739.webp"),
        },
    ]
}

/// In the child: prepare the file and print the peak.
fn measure(path: &str) {
    let bytes = std::fs::read(path).expect("read case");
    let prepared = prepare_reference(&bytes, &ImageLimits::default());
    let peak = ALLOCATOR.max_allocated();
    match prepared {
        Ok(image) => println!("peak {peak} {}x{}", image.width, image.height),
        Err(e) => println!("error {e}"),
    }
}

/// Generates the case's input, has a child prepare it: the child's answer (with its stderr when
/// it printed no peak) and its seconds.
fn run_case(exe: &std::path::Path, case: &Case) -> (String, f64) {
    let bytes = (case.make)();
    let file = tempfile::NamedTempFile::with_prefix("imagegen-memory-").expect("temp file");
    std::fs::write(file.path(), &bytes).expect("write case");
    drop(bytes);
    let started = std::time::Instant::now();
    let output = Command::new(exe)
        .env(CASE_FILE, file.path())
        .output()
        .expect("run child");
    let seconds = started.elapsed().as_secs_f64();
    let mut answer = String::from_utf8_lossy(&output.stdout).into_owned();
    if !answer.starts_with("peak ") {
        answer.push(' ');
        answer.push_str(String::from_utf8_lossy(&output.stderr).trim());
    }
    (answer, seconds)
}

/// The one test this binary holds, as test runners list it.
const TEST_NAME: &str = "peak_memory_of_each_format";

fn main() {
    if let Ok(path) = std::env::var(CASE_FILE) {
        measure(&path);
        return;
    }
    // Without libtest, answer its listing protocol ourselves so cargo-nextest can list and
    // run this binary like any other: `--list` (none ignored), then a run by name.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{TEST_NAME}: test");
        }
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    // Cases run side by side, as many as there are cores up to 3: each child measures only
    // itself, generating the inputs is most of the time, and each case holds up to ~300 MB.
    let cases = cases();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes: std::sync::Mutex<Vec<Option<(String, f64)>>> =
        std::sync::Mutex::new(vec![None; cases.len()]);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(3));
    std::thread::scope(|scope| {
        for _ in 0..workers.min(cases.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let outcome = run_case(&exe, case);
                    outcomes.lock().expect("no worker panicked")[index] = Some(outcome);
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("no worker panicked");

    let mut failures = Vec::new();
    println!(
        "{:<24} {:<44} {:>9} {:>8}",
        "format", "input", "peak MB", "seconds"
    );
    for (case, outcome) in cases.iter().zip(outcomes) {
        let (stdout, seconds) = outcome.expect("every case ran");
        let peak = stdout
            .strip_prefix("peak ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok());
        match peak {
            Some(peak) => {
                println!(
                    "{:<24} {:<44} {:>9.1} {:>8.1}",
                    case.format,
                    case.input,
                    peak as f64 / 1e6,
                    seconds
                );
                if peak >= MEMORY_BUDGET {
                    failures.push(format!("{}: peak {peak} bytes", case.format));
                }
            }
            None => failures.push(format!(
                "{} ({}): {}",
                case.format,
                case.input,
                stdout.trim()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "over the {MEMORY_BUDGET}-byte budget or refused: {failures:#?}"
    );
}
