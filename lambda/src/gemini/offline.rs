//! [`OfflineGenerator`]: deterministic stand-in images for the dev server and tests.
//!
//! Each image is a real PNG painted from SHA-256(prompt, index): a two-colour gradient with
//! translucent discs over it. Same prompt and index, same bytes; another prompt, another
//! picture; so a developer can see at a glance that the right image came back.

use std::io::Cursor;

use async_trait::async_trait;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use sha2::{Digest, Sha256};

use super::{
    CallBudget, GenerateError, GeneratedImage, ImageAttempt, ImageGenerator, ImageRequest, Usage,
};

/// Longest side of every offline image, in pixels.
const LONGEST_SIDE: u32 = 512;
const DISCS: usize = 5;

/// Generates images without a network or a key. Usage is zero; it never fails for a valid
/// request (count >= 1, aspect ratio `W:H` with positive integers or absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineGenerator;

#[async_trait]
impl ImageGenerator for OfflineGenerator {
    async fn generate_image(
        &self,
        req: &ImageRequest,
        index: u8,
        _budget: CallBudget,
    ) -> ImageAttempt {
        let outcome = if req.count == 0 {
            Err(GenerateError::InvalidRequest {
                message: "count must be at least 1".into(),
            })
        } else {
            dimensions(req.aspect_ratio.as_deref()).and_then(|(width, height)| {
                let digest = seed(&req.prompt, index);
                encode_png(&paint(&digest, width, height), width, height)
                    .and_then(GeneratedImage::validate)
            })
        };
        ImageAttempt {
            calls: u32::from(outcome.is_ok()),
            outcome,
            usage: Usage::default(),
        }
    }

    fn name(&self) -> &'static str {
        "offline"
    }
}

/// `"W:H"` to pixel dimensions with the longer side at [`LONGEST_SIDE`]; square when absent.
fn dimensions(aspect_ratio: Option<&str>) -> Result<(u32, u32), GenerateError> {
    let Some(ratio) = aspect_ratio else {
        return Ok((LONGEST_SIDE, LONGEST_SIDE));
    };
    let invalid = || GenerateError::InvalidRequest {
        message: format!("aspect_ratio {ratio:?} is not W:H"),
    };
    let (w, h) = ratio.split_once(':').ok_or_else(invalid)?;
    let w: u32 = w.trim().parse().map_err(|_| invalid())?;
    let h: u32 = h.trim().parse().map_err(|_| invalid())?;
    if w == 0 || h == 0 {
        return Err(invalid());
    }
    // Rounded integer scaling of the shorter side; u64 so large ratios cannot overflow.
    let scale = |short: u32, long: u32| {
        let side =
            (u64::from(LONGEST_SIDE) * u64::from(short) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(side).unwrap_or(LONGEST_SIDE).max(1)
    };
    Ok(if w >= h {
        (LONGEST_SIDE, scale(h, w))
    } else {
        (scale(w, h), LONGEST_SIDE)
    })
}

fn seed(prompt: &str, index: u8) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"imagegen-offline/v1\0");
    hasher.update(prompt.as_bytes());
    hasher.update([0, index]);
    hasher.finalize().into()
}

/// RGB8 pixels. Integer arithmetic only, so the output cannot drift with float rounding.
///
/// Written row-wise from precomputed strips because tests and the dev server run unoptimised
/// builds, where a per-pixel loop over 512x512 costs a noticeable fraction of a second.
/// Both sides are at most [`LONGEST_SIDE`], so the integer casts below are lossless.
fn paint(digest: &[u8; 32], width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let row_len = w * 3;

    // Background: a two-colour gradient along one of four directions. Every row is a window
    // onto one strip of colours (horizontal, both diagonals) or a single colour (vertical).
    let from = [digest[0], digest[1], digest[2]];
    let to = [digest[3], digest[4], digest[5]];
    let direction = digest[6] % 4;
    let positions = match direction {
        0 => w,
        1 => h,
        _ => w + h - 1,
    };
    let mut strip = Vec::with_capacity(positions * 3);
    for k in 0..positions {
        let t = (k * 255 / (positions - 1).max(1)) as i64;
        strip.extend_from_slice(&[
            mix(from[0], to[0], t),
            mix(from[1], to[1], t),
            mix(from[2], to[2], t),
        ]);
    }
    let mut pixels = Vec::with_capacity(row_len * h);
    for y in 0..h {
        let row = match direction {
            0 => strip.get(..row_len).map(<[u8]>::to_vec),
            1 => strip.get(y * 3..y * 3 + 3).map(|colour| colour.repeat(w)),
            2 => strip.get(y * 3..y * 3 + row_len).map(<[u8]>::to_vec),
            _ => {
                let start = (h - 1 - y) * 3;
                strip.get(start..start + row_len).map(<[u8]>::to_vec)
            }
        };
        // The ranges are in bounds by construction; `get` only keeps this panic-free.
        pixels.extend_from_slice(&row.unwrap_or_else(|| vec![0; row_len]));
    }

    // Translucent discs, drawn row by row over their horizontal extent.
    let (wi, hi) = (w as i64, h as i64);
    let longest = wi.max(hi);
    for i in 0..DISCS {
        let b = &digest[7 + i * 4..11 + i * 4];
        let (cx, cy) = (i64::from(b[0]) * wi / 256, i64::from(b[1]) * hi / 256);
        let radius = (i64::from(b[2] % 96) + 24) * longest / 512;
        // Spread each disc's colour over the digest so neighbouring discs differ.
        let colour = [b[3], digest[(i * 7 + 3) % 32], digest[(i * 11 + 5) % 32]];
        for y in (cy - radius).max(0)..=(cy + radius).min(hi - 1) {
            let dy = y - cy;
            let half = (radius * radius - dy * dy).isqrt();
            let (x0, x1) = ((cx - half).max(0), (cx + half).min(wi - 1));
            if x0 > x1 {
                continue;
            }
            let start = (y * wi + x0) as usize * 3;
            let end = (y * wi + x1 + 1) as usize * 3;
            if let Some(span) = pixels.get_mut(start..end) {
                for px in span.chunks_exact_mut(3) {
                    px[0] = mix(px[0], colour[0], 160);
                    px[1] = mix(px[1], colour[1], 160);
                    px[2] = mix(px[2], colour[2], 160);
                }
            }
        }
    }
    pixels
}

/// `a` blended towards `b` by `t`/255.
fn mix(a: u8, b: u8, t: i64) -> u8 {
    let v = (i64::from(a) * (255 - t) + i64::from(b) * t) / 255;
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, GenerateError> {
    let mut out = Cursor::new(Vec::new());
    // Cheapest settings: gradients compress well anyway, and these are throwaway dev images
    // (adaptive filtering costs 5x the time for a few KB).
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(pixels, width, height, ExtendedColorType::Rgb8)
        .map_err(|err| GenerateError::Config {
            message: format!("offline PNG encoding failed: {err}"),
        })?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: &str, aspect_ratio: Option<&str>, count: u8) -> ImageRequest {
        ImageRequest {
            prompt: prompt.into(),
            reference_images: Vec::new(),
            aspect_ratio: aspect_ratio.map(Into::into),
            count,
            image_size: None,
        }
    }

    #[tokio::test]
    async fn same_prompt_same_bytes() {
        let a = OfflineGenerator
            .generate(&request("a red fox", None, 2), 1)
            .await
            .unwrap();
        let b = OfflineGenerator
            .generate(&request("a red fox", None, 2), 1)
            .await
            .unwrap();
        assert_eq!(a.images, b.images);
        assert_eq!(a.calls, 2);
        assert_eq!(a.usage, Usage::default());
        assert_eq!(OfflineGenerator.name(), "offline");
    }

    #[tokio::test]
    async fn prompt_and_index_change_the_image() {
        let fox = OfflineGenerator
            .generate(&request("a red fox", None, 2), 1)
            .await
            .unwrap();
        let owl = OfflineGenerator
            .generate(&request("a grey owl", None, 1), 1)
            .await
            .unwrap();
        assert_eq!(fox.images.len(), 2);
        assert_ne!(fox.images[0], fox.images[1]);
        assert_ne!(fox.images[0], owl.images[0]);

        // Different pixels, not just different bytes.
        let fox = image::load_from_memory(&fox.images[0].data)
            .unwrap()
            .to_rgb8();
        let owl = image::load_from_memory(&owl.images[0].data)
            .unwrap()
            .to_rgb8();
        let differing = fox
            .pixels()
            .zip(owl.pixels())
            .filter(|(a, b)| a != b)
            .count();
        assert!(differing > 512 * 512 / 2, "only {differing} pixels differ");
    }

    #[test]
    fn dimensions_follow_the_aspect_ratio() {
        for (ratio, expected) in [
            (None, (512, 512)),
            (Some("1:1"), (512, 512)),
            (Some("16:9"), (512, 288)),
            (Some("9:16"), (288, 512)),
            (Some("3:2"), (512, 341)),
            (Some("21:9"), (512, 219)),
            (Some("1000:1"), (512, 1)),
        ] {
            assert_eq!(dimensions(ratio).unwrap(), expected, "{ratio:?}");
        }
    }

    #[tokio::test]
    async fn decodes_as_png_with_aspect_ratio_dimensions() {
        for (ratio, expected) in [(None, (512, 512)), (Some("9:16"), (288, 512))] {
            let generation = OfflineGenerator
                .generate(&request("dimensions", ratio, 1), 1)
                .await
                .unwrap();
            let image = &generation.images[0];
            assert_eq!(image.mime_type(), "image/png");
            assert_eq!((image.width, image.height), expected, "{ratio:?}");
            let decoded =
                image::load_from_memory_with_format(&image.data, image::ImageFormat::Png).unwrap();
            assert_eq!((decoded.width(), decoded.height()), expected, "{ratio:?}");
        }
    }

    #[tokio::test]
    async fn rejects_what_gemini_would_reject() {
        for (ratio, count) in [(Some("wide"), 1), (Some("0:1"), 1), (None, 0)] {
            let err = OfflineGenerator
                .generate(&request("x", ratio, count), 1)
                .await
                .unwrap_err();
            assert_eq!(err.code(), "invalid_request");
            assert!(!err.charged());
        }
    }
}
