//! The WebP container, checked before image-webp sees the file.
//!
//! image-webp trusts what the file says: it allocates the size an EXIF chunk header claims, and
//! buffers for the inner VP8/VP8L frame's own dimensions, before it notices that they disagree
//! with the file length or the canvas (a 108-byte file made it allocate 418 MB). So every chunk
//! is walked here first: each must lie within the bytes present, a still image's frame must be
//! exactly the canvas `inspect` bounded, and each animation frame must lie within it. Only then
//! does image-webp get to decode.

use super::ImageError;

fn corrupt(message: &str) -> ImageError {
    ImageError::Corrupt(format!("WebP: {message}"))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let [a, b, c] = *bytes.get(at..)?.first_chunk::<3>()?;
    Some(u32::from_le_bytes([a, b, c, 0]))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*bytes.get(at..)?.first_chunk()?))
}

/// What the checked container holds.
pub struct Container<'a> {
    pub width: u32,
    pub height: u32,
    /// The EXIF chunk's TIFF structure, for the orientation only.
    pub exif: Option<&'a [u8]>,
    pub animated: bool,
}

/// The chunks of `body`, each as (fourcc, payload); an error for a chunk longer than what is left.
fn chunks(mut body: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8]), ImageError>> {
    std::iter::from_fn(move || {
        if body.is_empty() {
            return None;
        }
        let parsed = (|| {
            let fourcc = *body
                .first_chunk::<4>()
                .ok_or_else(|| corrupt("truncated chunk"))?;
            let size = le32(body, 4).ok_or_else(|| corrupt("truncated chunk"))?;
            let size = usize::try_from(size).map_err(|_| corrupt("chunk too long"))?;
            let payload = body
                .get(8..)
                .and_then(|rest| rest.get(..size))
                .ok_or_else(|| corrupt("a chunk is longer than the file"))?;
            // Chunks are padded to even length; a missing final pad byte is tolerated.
            body = body.get(8 + size + (size & 1)..).unwrap_or_default();
            Ok((fourcc, payload))
        })();
        if parsed.is_err() {
            body = &[];
        }
        Some(parsed)
    })
}

/// Frame dimensions of a VP8 (lossy) payload: frame tag, start code, 14-bit width and height.
fn vp8_size(payload: &[u8]) -> Result<(u32, u32), ImageError> {
    if payload.get(3..6) != Some(&[0x9d, 0x01, 0x2a]) {
        return Err(corrupt("VP8 start code missing"));
    }
    let bits = le32(payload, 6).ok_or_else(|| corrupt("truncated VP8 header"))?;
    Ok((bits & 0x3FFF, (bits >> 16) & 0x3FFF))
}

/// Frame dimensions of a VP8L (lossless) payload.
fn vp8l_size(payload: &[u8]) -> Result<(u32, u32), ImageError> {
    if payload.first() != Some(&0x2F) {
        return Err(corrupt("VP8L signature missing"));
    }
    let bits = le32(payload, 1).ok_or_else(|| corrupt("truncated VP8L header"))?;
    Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
}

/// The frame size of an image chunk, `None` for any other chunk.
fn frame_size(fourcc: &[u8; 4], payload: &[u8]) -> Result<Option<(u32, u32)>, ImageError> {
    Ok(match fourcc {
        b"VP8 " => Some(vp8_size(payload)?),
        b"VP8L" => Some(vp8l_size(payload)?),
        _ => None,
    })
}

/// Walk and check the whole container (see the module docs).
pub fn check(bytes: &[u8]) -> Result<Container<'_>, ImageError> {
    let riff_size = le32(bytes, 4).ok_or_else(|| corrupt("truncated RIFF header"))?;
    let end = usize::try_from(riff_size)
        .ok()
        .and_then(|size| size.checked_add(8))
        .ok_or_else(|| corrupt("RIFF size too large"))?;
    let body = bytes
        .get(12..end)
        .ok_or_else(|| corrupt("the RIFF size is larger than the file"))?;
    let mut chunks = chunks(body);
    let (fourcc, payload) = chunks.next().ok_or_else(|| corrupt("no chunks"))??;
    if &fourcc == b"VP8X" {
        return extended(payload, chunks);
    }
    let (width, height) =
        frame_size(&fourcc, payload)?.ok_or_else(|| corrupt("unknown first chunk"))?;
    Ok(Container {
        width,
        height,
        exif: None,
        animated: false,
    })
}

/// VP8X: flags, then the canvas; the image data follows in later chunks.
fn extended<'a>(
    header: &'a [u8],
    chunks: impl Iterator<Item = Result<([u8; 4], &'a [u8]), ImageError>>,
) -> Result<Container<'a>, ImageError> {
    let truncated = || corrupt("truncated VP8X header");
    let flags = *header.first().ok_or_else(truncated)?;
    let width = le24(header, 4).ok_or_else(truncated)? + 1;
    let height = le24(header, 7).ok_or_else(truncated)? + 1;
    let mut container = Container {
        width,
        height,
        exif: None,
        animated: flags & 0x02 != 0,
    };
    let mut frames = 0usize;
    for chunk in chunks {
        let (fourcc, payload) = chunk?;
        match &fourcc {
            b"ANMF" => {
                animation_frame(payload, (width, height))?;
                frames += 1;
            }
            b"EXIF" if container.exif.is_none() => {
                // Some writers keep JPEG's APP1 prefix in the chunk.
                container.exif = Some(payload.strip_prefix(b"Exif\0\0").unwrap_or(payload));
            }
            _ => {
                if let Some(size) = frame_size(&fourcc, payload)? {
                    if size != (width, height) {
                        return Err(corrupt("the frame size differs from the canvas"));
                    }
                    frames += 1;
                }
            }
        }
    }
    if frames == 0 {
        return Err(corrupt("no image data"));
    }
    Ok(container)
}

/// ANMF: offset (x/2, y/2), size - 1, duration, flags (16 bytes), then the frame's own chunks.
fn animation_frame(payload: &[u8], (width, height): (u32, u32)) -> Result<(), ImageError> {
    let truncated = || corrupt("truncated animation frame");
    let x = le24(payload, 0).ok_or_else(truncated)? * 2;
    let y = le24(payload, 3).ok_or_else(truncated)? * 2;
    let frame = (
        le24(payload, 6).ok_or_else(truncated)? + 1,
        le24(payload, 9).ok_or_else(truncated)? + 1,
    );
    if x + frame.0 > width || y + frame.1 > height {
        return Err(corrupt("an animation frame lies outside the canvas"));
    }
    let mut found = false;
    for chunk in chunks(payload.get(16..).ok_or_else(truncated)?) {
        let (fourcc, data) = chunk?;
        if let Some(size) = frame_size(&fourcc, data)? {
            if size != frame || found {
                return Err(corrupt("bad animation frame data"));
            }
            found = true;
        }
    }
    if found {
        Ok(())
    } else {
        Err(corrupt("animation frame without image data"))
    }
}
