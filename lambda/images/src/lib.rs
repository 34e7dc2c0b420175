//! Reference images: sniff, bound, decode, orient, strip, downscale and re-encode what a client
//! uploads before it goes to Gemini.
//!
//! The rules, in the order they are applied:
//! 1. at most `max_bytes` of input;
//! 2. the format comes from the magic bytes (PNG, JPEG, WebP); a declared mime type is never
//!    trusted, anything else is [`ImageError::Unsupported`]; codings no decoder here handles
//!    (12-bit, arithmetic, lossless or hierarchical JPEG; baseline JPEGs with one scan per
//!    component unless they shrink on load) are [`ImageError::UnsupportedFeature`];
//! 3. width, height and pixel count are read from the header and bounded *before* any pixel
//!    buffer is allocated (decompression bombs), and bounded again on what each decoder will
//!    actually use: a JPEG with a second frame header is refused, and a WebP's chunks, inner
//!    frames and animation frames must fit the file and the canvas (see [`webp`]);
//! 4. the EXIF orientation is applied, so the output is upright;
//! 5. the output is re-encoded from pixels only, so no EXIF/ICC/XMP survives;
//! 6. the longest side is brought down to `longest_side` (never up) with Lanczos3;
//! 7. JPEG (quality 85) for opaque images, PNG for images with transparency.
//!
//! Memory: the API function has 512 MB and prepares one image at a time per request. Preparing
//! any accepted image peaks below [`MEMORY_BUDGET`] of heap (`tests/memory.rs` measures the worst
//! case of each format). Baseline JPEGs up to `max_pixels` (40 MP) take the shrink-on-load path
//! below, which never holds the full-size image; everything else is decoded in full, so its
//! pixel count times the bytes per pixel that decoder holds must stay within
//! `max_decode_memory` (e.g. 13 MP for a progressive 4:4:4 JPEG, 32 MP for a baseline CMYK one,
//! 14 MP for RGBA PNG, 10 MP for 16-bit RGBA PNG or animated WebP, 13 MP for other WebPs).
//! Measured: 16 MB for a 40 MP baseline JPEG, 100 to 144 MB for the largest full decodes.
//!
//! Speed: a 12-megapixel phone JPEG is the common input. A full decode of it costs more than
//! everything else together, so baseline JPEGs are decoded straight at 1/2, 1/4 or 1/8 size
//! (see [`jpeg`]), resized per YCbCr plane and handed to the encoder as YCbCr: no colour
//! conversion happens at all. Everything runs on the calling thread; nothing here starts
//! threads or uses a pool. `cargo xtask bench` compares it with libvips (sharp).
//!
//! A crate of its own so that it alone builds at opt-level 3 while the functions build for size
//! (`[profile.release.package.imagegen-images]` in the workspace Cargo.toml); the service uses it
//! as `imagegen::images`.

// The stages beneath `prepare_reference` are public for the crate's own tests
// (tests/stages.rs) and nothing else: unit tests inside the crate would compile it a second
// time at opt-level 3, ~90 s of CPU in every cold test build.
#[doc(hidden)]
pub mod encode;
#[doc(hidden)]
pub mod header;
#[doc(hidden)]
pub mod jpeg;
#[doc(hidden)]
pub mod resize;
#[doc(hidden)]
pub mod webp;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder};

/// The formats accepted as reference images (and produced for Gemini: JPEG or PNG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub const ALL: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp];

    /// The format a declared media type names, when it is one we take.
    pub fn from_mime_type(mime_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.mime_type() == mime_type)
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
        }
    }

    fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Webp => image::ImageFormat::WebP,
        }
    }
}

/// The format, from the magic bytes alone.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// Bounds on what we accept and what we send on.
#[derive(Debug, Clone)]
pub struct ImageLimits {
    /// Encoded size of the input.
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    /// Pixel count (width * height). What bounds baseline JPEGs, which shrink on load; full
    /// decodes are held tighter by `max_decode_memory`.
    pub max_pixels: u64,
    /// The prepared image's longest side; larger images are scaled down to it.
    pub longest_side: u32,
    /// Bytes a full decode may hold: width x height x the bytes per pixel its decoder and the
    /// resizer keep (PNG: the decoded sample size, at least 4, plus 5; WebP: 10, animated 13;
    /// JPEG: 4, progressive 4 + 2 per component). Baseline JPEGs decoded at reduced size are
    /// bounded by `max_pixels` alone: they never hold the full-size image.
    pub max_decode_memory: u64,
}

/// What preparing an accepted image may allocate at its peak, input and output included, with
/// the default limits. The API function has 512 MB; this leaves room for the runtime, the
/// request body and its base64 text.
pub const MEMORY_BUDGET: u64 = 160 * 1000 * 1000;

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 12_000,
            max_height: 12_000,
            max_pixels: 40_000_000,
            longest_side: 1536,
            // With the per-pixel costs above, the largest full decode stays below
            // MEMORY_BUDGET together with the 10 MB input and the resizer's buffers.
            max_decode_memory: 130 * 1000 * 1000,
        }
    }
}

/// What the header says, after the limits were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// A reference image ready for Gemini: upright, metadata-free, bounded, re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedImage {
    /// [`ImageFormat::Jpeg`] or [`ImageFormat::Png`] (only for images with transparency).
    pub format: ImageFormat,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not a PNG, JPEG or WebP image")]
    Unsupported,
    #[error("image is {actual} bytes; at most {max} are allowed")]
    TooManyBytes { actual: usize, max: usize },
    #[error("image is {width}x{height} pixels, over the allowed dimensions")]
    TooLarge { width: u32, height: u32 },
    #[error("image data is corrupt: {0}")]
    Corrupt(String),
    /// A PNG, JPEG or WebP in a coding we do not decode (e.g. a 12-bit JPEG); also answered
    /// as 415, with what is unsupported.
    #[error("unsupported image: {0}")]
    UnsupportedFeature(&'static str),
}

impl ImageError {
    /// The `details[].issue` the HTTP layer reports.
    pub fn issue(&self) -> &'static str {
        match self {
            ImageError::Unsupported => "unsupported_format",
            ImageError::TooManyBytes { .. } => "too_many_bytes",
            ImageError::TooLarge { .. } => "dimensions_too_large",
            ImageError::Corrupt(_) => "corrupt",
            ImageError::UnsupportedFeature(_) => "unsupported_format",
        }
    }

    /// The client sent something we do not take (HTTP 415), rather than something broken.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            ImageError::Unsupported | ImageError::UnsupportedFeature(_)
        )
    }

    fn corrupt(message: impl std::fmt::Display) -> Self {
        ImageError::Corrupt(message.to_string())
    }
}

/// Format and dimensions from the header alone, checked against `limits`. Decodes no pixels.
pub fn inspect(bytes: &[u8], limits: &ImageLimits) -> Result<ImageInfo, ImageError> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooManyBytes {
            actual: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(ImageError::Unsupported)?;
    let (width, height) = header::dimensions(format, bytes)?;
    check_size((width, height), limits)?;
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// Width, height and pixel count against `limits`.
fn check_size((width, height): (u32, u32), limits: &ImageLimits) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::corrupt(
            "the header gives a zero width or height",
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_width || height > limits.max_height || pixels > limits.max_pixels {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok(())
}

/// A full decode of `info` holding `bytes_per_pixel` must fit `max_decode_memory`.
fn check_decode_memory(
    info: &ImageInfo,
    bytes_per_pixel: u64,
    limits: &ImageLimits,
) -> Result<(), ImageError> {
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels.saturating_mul(bytes_per_pixel) > limits.max_decode_memory {
        return Err(ImageError::TooLarge {
            width: info.width,
            height: info.height,
        });
    }
    Ok(())
}

/// Format and stored dimensions of an image we trust (e.g. one Gemini generated), from its
/// header. `None` when it is not a PNG, JPEG or WebP or its header is unreadable.
pub fn dimensions(bytes: &[u8]) -> Option<(ImageFormat, u32, u32)> {
    let format = sniff(bytes)?;
    let (width, height) = header::dimensions(format, bytes).ok()?;
    Some((format, width, height))
}

/// Validate and prepare one reference image for Gemini (see the module docs for the rules).
pub fn prepare_reference(bytes: &[u8], limits: &ImageLimits) -> Result<PreparedImage, ImageError> {
    let info = inspect(bytes, limits)?;
    let target = resize::fit(info.width, info.height, limits.longest_side);
    match info.format {
        ImageFormat::Jpeg => prepare_jpeg(bytes, &info, target, limits),
        ImageFormat::Png | ImageFormat::Webp => {
            let (image, orientation) = decode_with_image(bytes, &info, limits)?;
            finish(image, orientation, target)
        }
    }
}

/// An image re-encoded as `to`, at its own size: the model's output in the format a client
/// asked for. Decoded under `limits` as a reference image is, oriented, metadata dropped;
/// transparency is kept in PNG and WebP and flattened onto white for JPEG. JPEG is written at
/// `quality` (90 without one); WebP lossless without a `quality`, lossy at it with one.
pub fn transcode(
    bytes: &[u8],
    to: ImageFormat,
    quality: Option<u8>,
    limits: &ImageLimits,
) -> Result<PreparedImage, ImageError> {
    let info = inspect(bytes, limits)?;
    let (image, orientation) = match info.format {
        ImageFormat::Jpeg => {
            let (parsed, size, orientation) = parse_jpeg(bytes, &info, limits)?;
            // zune-jpeg decodes these wrongly (see `prepare_jpeg`): refused, never bad pixels.
            if parsed.separate_scans() {
                return Err(ImageError::UnsupportedFeature(
                    "baseline JPEG with separate component scans",
                ));
            }
            check_decode_memory(&info, parsed.full_decode_bytes_per_pixel(), limits)?;
            (jpeg::decode_full(bytes, limits, size)?, orientation)
        }
        ImageFormat::Png | ImageFormat::Webp => decode_with_image(bytes, &info, limits)?,
    };
    let size = (image.width(), image.height());
    let rgba = orient(
        image.into_rgba8().into_raw(),
        size,
        resize::Channels::Rgba,
        orientation,
    )?;
    let (width, height) = (rgba.width(), rgba.height());
    let pixels = rgba.into_bytes();
    let data = match to {
        ImageFormat::Png => encode::png(&pixels, width, height)?,
        ImageFormat::Webp => match quality {
            None => encode::webp(&pixels, width, height)?,
            Some(quality) => encode::webp_lossy(&pixels, width, height, quality)?,
        },
        ImageFormat::Jpeg => {
            let rgb = flatten_onto_white(&pixels);
            let quality = quality.unwrap_or(DEFAULT_JPEG_QUALITY);
            encode::jpeg_at(encode::JpegInput::Rgb(&rgb), width, height, quality)?
        }
    };
    Ok(PreparedImage {
        format: to,
        data,
        width,
        height,
    })
}

/// The JPEG quality [`transcode`] writes when none is asked for (the API's default `quality`).
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

/// RGBA to RGB over a white background (what a transparent PNG looks like on a page).
fn flatten_onto_white(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
    for pixel in rgba.chunks_exact(4) {
        let alpha = u16::from(pixel[3]);
        for &channel in &pixel[..3] {
            // c·a + 255·(1 − a), rounded; at most 255.
            let blended = (u16::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255;
            rgb.push(u8::try_from(blended).unwrap_or(u8::MAX));
        }
    }
    rgb
}

/// A JPEG's markers, its frame's size and its EXIF orientation. The frame the decoders use is
/// bounded again: it must be the one `inspect` read.
fn parse_jpeg<'a>(
    bytes: &'a [u8],
    info: &ImageInfo,
    limits: &ImageLimits,
) -> Result<(jpeg::Parsed<'a>, (u32, u32), Orientation), ImageError> {
    let parsed = jpeg::parse(bytes)?;
    let size = parsed
        .size()
        .ok_or_else(|| ImageError::corrupt("JPEG without a frame header"))?;
    check_size(size, limits)?;
    if size != (info.width, info.height) {
        return Err(ImageError::corrupt("JPEG frame headers disagree"));
    }
    let orientation = parsed
        .exif
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok((parsed, size, orientation))
}

fn prepare_jpeg(
    bytes: &[u8],
    info: &ImageInfo,
    target: (u32, u32),
    limits: &ImageLimits,
) -> Result<PreparedImage, ImageError> {
    let (parsed, size, orientation) = parse_jpeg(bytes, info, limits)?;
    let scale = jpeg::shrink_factor((info.width, info.height), target);
    if scale > 1
        && let Some(planes) = jpeg::decode_scaled(&parsed, bytes, scale)?
    {
        return finish_planes(planes, orientation, target);
    }
    // zune-jpeg gets these wrong (see `separate_scans`); only the scaled decoder takes them.
    if parsed.separate_scans() {
        return Err(ImageError::UnsupportedFeature(
            "baseline JPEG with separate component scans, too small to shrink on load",
        ));
    }
    // Progressive, CMYK, RGB or small enough that shrinking buys nothing: full decode.
    check_decode_memory(info, parsed.full_decode_bytes_per_pixel(), limits)?;
    let image = jpeg::decode_full(bytes, limits, size)?;
    finish(image, orientation, target)
}

/// Decode a PNG or WebP with `image`, under decoder limits that repeat ours: a second guard in
/// case a header parser and a decoder ever disagree about the dimensions.
#[doc(hidden)]
pub fn decode_with_image(
    bytes: &[u8],
    info: &ImageInfo,
    limits: &ImageLimits,
) -> Result<(DynamicImage, Orientation), ImageError> {
    // image-webp would allocate what the container claims before checking it: the container is
    // checked first, and the orientation read from its EXIF chunk here, not by image-webp.
    let webp_orientation = match info.format {
        ImageFormat::Webp => {
            let container = webp::check(bytes)?;
            if (container.width, container.height) != (info.width, info.height) {
                return Err(ImageError::corrupt("WebP canvas and header disagree"));
            }
            let bytes_per_pixel = if container.animated { 13 } else { 10 };
            check_decode_memory(info, bytes_per_pixel, limits)?;
            Some(
                container
                    .exif
                    .and_then(Orientation::from_exif_chunk)
                    .unwrap_or(Orientation::NoTransforms),
            )
        }
        _ => {
            header::check_png_palette(bytes)?;
            check_decode_memory(info, header::png_bytes_per_pixel(bytes), limits)?;
            None
        }
    };
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), info.format.to_image());
    reader.limits(decoder_limits(limits));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| from_image_error(e, info))?;
    // Metadata that does not parse is no reason to refuse the pixels: it is dropped anyway.
    let orientation = match webp_orientation {
        Some(orientation) => orientation,
        None => decoder.orientation().unwrap_or(Orientation::NoTransforms),
    };
    let image = DynamicImage::from_decoder(decoder).map_err(|e| from_image_error(e, info))?;
    Ok((image, orientation))
}

fn decoder_limits(limits: &ImageLimits) -> image::Limits {
    let mut decoder = image::Limits::default();
    decoder.max_image_width = Some(limits.max_width);
    decoder.max_image_height = Some(limits.max_height);
    // The pixel buffer it hands back is part of the budget checked before decoding.
    decoder.max_alloc = Some(limits.max_decode_memory);
    decoder
}

fn from_image_error(error: image::ImageError, info: &ImageInfo) -> ImageError {
    match error {
        image::ImageError::Limits(_) => ImageError::TooLarge {
            width: info.width,
            height: info.height,
        },
        // A variant we cannot decode (an exotic PNG/WebP feature) is not the client's
        // corruption; 415 tells them to send something plainer.
        image::ImageError::Unsupported(_) => ImageError::Unsupported,
        other => ImageError::corrupt(other),
    }
}

/// Downscale, orient and encode decoded pixels.
#[doc(hidden)]
pub fn finish(
    image: DynamicImage,
    orientation: Orientation,
    target: (u32, u32),
) -> Result<PreparedImage, ImageError> {
    let (width, height) = (image.width(), image.height());
    if has_transparency(&image) {
        let rgba = image.into_rgba8().into_raw();
        let rgba = resize::resize(rgba, (width, height), target, resize::Channels::Rgba, None)?;
        let image = orient(rgba, target, resize::Channels::Rgba, orientation)?;
        let data = encode::png(image.as_bytes(), image.width(), image.height())?;
        return Ok(PreparedImage {
            format: ImageFormat::Png,
            data,
            width: image.width(),
            height: image.height(),
        });
    }
    let rgb = image.into_rgb8().into_raw();
    let rgb = resize::resize(rgb, (width, height), target, resize::Channels::Rgb, None)?;
    let image = orient(rgb, target, resize::Channels::Rgb, orientation)?;
    let data = encode::jpeg(
        encode::JpegInput::Rgb(image.as_bytes()),
        image.width(),
        image.height(),
    )?;
    Ok(PreparedImage {
        format: ImageFormat::Jpeg,
        data,
        width: image.width(),
        height: image.height(),
    })
}

/// The JPEG fast path's tail: resize each plane, orient, interleave, encode.
///
/// Chroma is resized straight to the 4:2:0 size the encoder keeps (half the target) and
/// handed over as planes: half the chroma resizing, no interleaving, no colour conversion.
fn finish_planes(
    planes: jpeg::Planes,
    orientation: Orientation,
    target: (u32, u32),
) -> Result<PreparedImage, ImageError> {
    let chroma = (target.0.div_ceil(2), target.1.div_ceil(2));
    let mut oriented = Vec::with_capacity(planes.planes.len());
    for (index, plane) in planes.planes.into_iter().enumerate() {
        let (size, valid) = if index == 0 {
            (target, plane.valid)
        } else {
            // An odd target's last chroma sample covers half a luma pixel outside the image:
            // widen the source by as much so chroma stays aligned with luma.
            let extend = |c: u32, t: u32, v: f64, limit: u32| {
                (v * f64::from(2 * c) / f64::from(t)).min(f64::from(limit))
            };
            let valid = (
                extend(chroma.0, target.0, plane.valid.0, plane.width),
                extend(chroma.1, target.1, plane.valid.1, plane.height),
            );
            (chroma, valid)
        };
        let pixels = resize::resize(
            plane.pixels,
            (plane.width, plane.height),
            size,
            resize::Channels::Gray,
            Some(valid),
        )?;
        oriented.push(orient(pixels, size, resize::Channels::Gray, orientation)?.into_luma8());
    }
    let (width, height) = oriented
        .first()
        .map(|y| y.dimensions())
        .ok_or_else(|| ImageError::corrupt("JPEG without components"))?;
    let input = match oriented.as_slice() {
        [y] => encode::JpegInput::Luma(y.as_raw()),
        [y, cb, cr] => encode::JpegInput::Ycbcr420 {
            y: y.as_raw(),
            cb: cb.as_raw(),
            cr: cr.as_raw(),
        },
        _ => return Err(ImageError::corrupt("unexpected JPEG component count")),
    };
    let data = encode::jpeg(input, width, height)?;
    Ok(PreparedImage {
        format: ImageFormat::Jpeg,
        data,
        width,
        height,
    })
}

/// Apply the EXIF orientation to a small (already resized) buffer.
fn orient(
    pixels: Vec<u8>,
    (width, height): (u32, u32),
    channels: resize::Channels,
    orientation: Orientation,
) -> Result<DynamicImage, ImageError> {
    let wrong_size = || ImageError::corrupt("pixel buffer does not match its dimensions");
    let mut image = match channels {
        resize::Channels::Gray => DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(width, height, pixels).ok_or_else(wrong_size)?,
        ),
        resize::Channels::Rgb => DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(width, height, pixels).ok_or_else(wrong_size)?,
        ),
        resize::Channels::Rgba => DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(width, height, pixels).ok_or_else(wrong_size)?,
        ),
    };
    image.apply_orientation(orientation);
    Ok(image)
}

/// An alpha channel only counts when some pixel uses it: an opaque RGBA PNG is sent as JPEG.
fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(buffer) => buffer.pixels().any(|p| p.0[1] != u8::MAX),
        DynamicImage::ImageRgba8(buffer) => buffer.pixels().any(|p| p.0[3] != u8::MAX),
        DynamicImage::ImageLumaA16(buffer) => buffer.pixels().any(|p| p.0[1] != u16::MAX),
        DynamicImage::ImageRgba16(buffer) => buffer.pixels().any(|p| p.0[3] != u16::MAX),
        DynamicImage::ImageRgba32F(buffer) => buffer.pixels().any(|p| p.0[3] < 1.0),
        other => other.color().has_alpha(),
    }
}
