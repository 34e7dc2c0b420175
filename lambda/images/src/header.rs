//! Dimensions from container headers, without touching the pixel data.
//!
//! Hand-written on purpose: each format keeps its size in a few fixed bytes, and reading them
//! ourselves guarantees that no decoder allocates anything for an image we are about to refuse.

use super::{ImageError, ImageFormat};

pub fn dimensions(format: ImageFormat, bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    match format {
        ImageFormat::Png => png(bytes),
        ImageFormat::Jpeg => jpeg(bytes),
        ImageFormat::Webp => webp(bytes),
    }
}

fn truncated() -> ImageError {
    ImageError::corrupt("the header is truncated")
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*bytes.get(at..)?.first_chunk()?))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*bytes.get(at..)?.first_chunk()?))
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(*bytes.get(at..)?.first_chunk()?))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let [a, b, c] = *bytes.get(at..)?.first_chunk::<3>()?;
    Some(u32::from_le_bytes([a, b, c, 0]))
}

/// The signature is followed by the IHDR chunk: length, "IHDR", width, height (big endian).
fn png(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    if bytes.get(12..16) != Some(b"IHDR") {
        return Err(ImageError::corrupt("PNG does not start with an IHDR chunk"));
    }
    let width = be32(bytes, 16).ok_or_else(truncated)?;
    let height = be32(bytes, 20).ok_or_else(truncated)?;
    Ok((width, height))
}

/// A palette (PLTE) is 1 to 256 RGB entries: png 0.18 panics on one whose length is not a
/// multiple of 3 (found by the `prepare_reference_small` fuzz target), so its chunks are walked
/// up to the image data first and such a palette refused. A truncated chunk is left to the
/// decoder, which reports it.
pub fn check_png_palette(bytes: &[u8]) -> Result<(), ImageError> {
    let mut at = 8;
    while let (Some(length), Some(kind)) = (be32(bytes, at), bytes.get(at + 4..at + 8)) {
        match kind {
            b"PLTE" if length == 0 || length % 3 != 0 || length > 768 => {
                return Err(ImageError::corrupt(
                    "PNG palette is not a whole number of 1 to 256 RGB entries",
                ));
            }
            b"IDAT" | b"IEND" => return Ok(()),
            _ => {}
        }
        at = at
            .saturating_add(12)
            .saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
    }
    Ok(())
}

/// Walk the marker segments to the first start-of-frame (SOF0..SOF15 minus DHT/JPG/DAC).
fn jpeg(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let mut pos = 2;
    loop {
        // Markers may be padded with any number of 0xFF fill bytes.
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if bytes.get(pos) != Some(&0xFF) {
            return Err(match bytes.get(pos) {
                None => truncated(),
                Some(_) => ImageError::corrupt("JPEG marker expected"),
            });
        }
        let marker = *bytes.get(pos + 1).ok_or_else(truncated)?;
        pos += 2;
        match marker {
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 | 0xDA => return Err(ImageError::corrupt("JPEG has no frame header")),
            _ => {}
        }
        let length = usize::from(be16(bytes, pos).ok_or_else(truncated)?);
        if length < 2 {
            return Err(ImageError::corrupt("JPEG segment length below 2"));
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // length(2) precision(1) height(2) width(2)
            let height = be16(bytes, pos + 3).ok_or_else(truncated)?;
            let width = be16(bytes, pos + 5).ok_or_else(truncated)?;
            return Ok((u32::from(width), u32::from(height)));
        }
        pos += length;
    }
}

/// RIFF/WEBP, then the first chunk: "VP8 " (lossy), "VP8L" (lossless) or "VP8X" (extended).
fn webp(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let payload = 20;
    match bytes.get(12..16).ok_or_else(truncated)? {
        b"VP8 " => {
            // 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
            if bytes.get(payload + 3..payload + 6) != Some(&[0x9d, 0x01, 0x2a]) {
                return Err(ImageError::corrupt("WebP VP8 start code missing"));
            }
            let width = le16(bytes, payload + 6).ok_or_else(truncated)? & 0x3FFF;
            let height = le16(bytes, payload + 8).ok_or_else(truncated)? & 0x3FFF;
            Ok((u32::from(width), u32::from(height)))
        }
        b"VP8L" => {
            if bytes.get(payload) != Some(&0x2F) {
                return Err(ImageError::corrupt("WebP VP8L signature missing"));
            }
            let bits = u32::from_le_bytes(
                *bytes
                    .get(payload + 1..)
                    .and_then(|b| b.first_chunk())
                    .ok_or_else(truncated)?,
            );
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // flags(1) reserved(3), then canvas width-1 and height-1 as 24-bit little endian.
            let width = le24(bytes, payload + 4).ok_or_else(truncated)? + 1;
            let height = le24(bytes, payload + 7).ok_or_else(truncated)? + 1;
            Ok((width, height))
        }
        _ => Err(ImageError::corrupt("unknown WebP chunk")),
    }
}

/// Peak bytes per pixel of decoding a PNG with `image` and preparing it (see
/// `ImageLimits::max_decode_memory`): the decoded buffer (samples after palette and tRNS
/// expansion, which may add an alpha channel, so counted with one; at least 4, the 8-bit RGBA it
/// is turned into and resized from), the converted or premultiplied copy `finish` makes (4), and
/// a byte for the resizer's intermediate rows. IHDR: bit depth at 24, colour type at 25.
pub fn png_bytes_per_pixel(bytes: &[u8]) -> u64 {
    let sample = if bytes.get(24) == Some(&16) { 2 } else { 1 };
    let channels = match bytes.get(25) {
        Some(0 | 4) => 2,
        _ => 4,
    };
    (channels * sample).max(4) + 4 + 1
}
