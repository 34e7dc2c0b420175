//! Reference-image preparation on one thread: a 12-megapixel photo-like JPEG to a 1536 px JPEG.
//!
//! `cargo xtask bench` runs this and the same job with libvips (sharp) side by side.
//! Arguments: `--iterations N` (default 15), `--input PATH` (default
//! target/bench/input-12mp.jpg, generated when absent), `--output PATH` (our result, for
//! inspection). The last line is machine-readable:
//! `BENCH tool=imagegen median_ms=… min_ms=… output_bytes=… width=… height=… iterations=… threads=… times_ms=…,…`

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use imagegen::images::{ImageLimits, prepare_reference};

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const WARMUP: usize = 2;

fn main() -> Result<(), Box<dyn Error>> {
    let mut iterations = 15usize;
    let mut input = target_dir().join("bench").join("input-12mp.jpg");
    let mut output = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => {
                iterations = args.next().ok_or("--iterations needs a value")?.parse()?
            }
            "--input" => input = PathBuf::from(args.next().ok_or("--input needs a value")?),
            "--output" => {
                output = Some(PathBuf::from(args.next().ok_or("--output needs a value")?))
            }
            // cargo passes `--bench` to every bench binary; anything else is not ours either.
            _ => {}
        }
    }
    let iterations = iterations.max(1);
    let bytes = input_image(&input)?;
    let limits = ImageLimits::default();

    for _ in 0..WARMUP {
        prepare_reference(&bytes, &limits)?;
    }
    let mut times = Vec::with_capacity(iterations);
    let mut prepared = None;
    for _ in 0..iterations {
        let started = Instant::now();
        let result = prepare_reference(&bytes, &limits)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        prepared = Some(result);
    }
    let prepared = prepared.ok_or("no iteration ran")?;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let min = times[0];
    if let Some(path) = output {
        std::fs::write(path, &prepared.data)?;
    }
    let threads = thread_count();
    println!(
        "prepare_reference {}x{} JPEG ({} bytes) -> {}x{} JPEG: median {median:.2} ms, min {min:.2} ms over {iterations} runs",
        WIDTH,
        HEIGHT,
        bytes.len(),
        prepared.width,
        prepared.height,
    );
    let times_ms = times
        .iter()
        .map(|t| format!("{t:.3}"))
        .collect::<Vec<_>>()
        .join(",");
    println!(
        "BENCH tool=imagegen median_ms={median:.3} min_ms={min:.3} output_bytes={} width={} height={} iterations={iterations} threads={threads} times_ms={times_ms}",
        prepared.data.len(),
        prepared.width,
        prepared.height,
    );
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
}

/// Threads in this process (Linux): proves that nothing started a pool behind our back.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// The input, generated once: a camera-like 4:2:0 JPEG at quality 90, ~3.5 MB.
fn input_image(path: &Path) -> Result<Vec<u8>, Box<dyn Error>> {
    if let Ok(bytes) = std::fs::read(path) {
        return Ok(bytes);
    }
    eprintln!(
        "generating {} ({WIDTH}x{HEIGHT}, photo-like)",
        path.display()
    );
    let rgb = photo(WIDTH, HEIGHT);
    let mut jpeg = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 90);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.encode(
        &rgb,
        WIDTH as u16,
        HEIGHT as u16,
        jpeg_encoder::ColorType::Rgb,
    )?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, &jpeg)?;
    Ok(jpeg)
}

/// Smooth colour fields, value noise at three scales and per-pixel grain: entropy like a
/// photo's, so the JPEG is as large and as slow to decode as a phone picture.
fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            for c in 0..3u32 {
                let (fx, fy, fc) = (x as f32 / width as f32, y as f32 / height as f32, c as f32);
                let base = 120.0
                    + 70.0 * (fx * 3.0 + fc * 0.8 + fy * 1.7).sin() * (fy * 2.3 - fc * 0.5).cos();
                let texture = 60.0 * value_noise(x, y, c, 64)
                    + 35.0 * value_noise(x, y, c, 17)
                    + 20.0 * value_noise(x, y, 7, 5);
                let grain = ((hash(x, y, c) & 0xFF) as f32 / 255.0 - 0.5) * 24.0;
                rgb.push((base + texture + grain).clamp(0.0, 255.0) as u8);
            }
        }
    }
    rgb
}

fn hash(x: u32, y: u32, c: u32) -> u32 {
    let mut h =
        x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297A_2D39);
    h ^ (h >> 15)
}

/// Smoothly interpolated random values on a `cell`-pixel grid, in -0.5..0.5.
fn value_noise(x: u32, y: u32, c: u32, cell: u32) -> f32 {
    let (gx, gy) = (x / cell, y / cell);
    let fx = (x % cell) as f32 / cell as f32;
    let fy = (y % cell) as f32 / cell as f32;
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let at = |a, b| (hash(a, b, c + cell) & 0xFFFF) as f32 / 65535.0 - 0.5;
    let top = at(gx, gy) * (1.0 - sx) + at(gx + 1, gy) * sx;
    let bottom = at(gx, gy + 1) * (1.0 - sx) + at(gx + 1, gy + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}
