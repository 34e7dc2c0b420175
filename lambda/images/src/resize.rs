//! Downscaling with fast_image_resize: SIMD (AVX2/SSE4.1/NEON, picked at run time) Lanczos3
//! convolution on the calling thread (its `rayon` feature stays off).
//!
//! Through `resize_typed`, for the three pixel types we have: the untyped `resize` matches
//! on all thirteen, which linked SIMD kernels for every one of them (0.4 MB of the api binary).

use fast_image_resize as fir;
use fir::PixelTrait;
use fir::pixels::{U8, U8x3, U8x4};
use fir::{IntoImageView as _, IntoImageViewMut as _};

use super::ImageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Gray,
    Rgb,
    /// Straight (not premultiplied) alpha; resizing premultiplies internally so transparent
    /// pixels do not bleed their colour into opaque neighbours.
    Rgba,
}

impl Channels {
    fn pixel_type(self) -> fir::PixelType {
        match self {
            Channels::Gray => fir::PixelType::U8,
            Channels::Rgb => fir::PixelType::U8x3,
            Channels::Rgba => fir::PixelType::U8x4,
        }
    }
}

/// The size that fits `longest_side`, aspect ratio kept, never larger than the input.
pub fn fit(width: u32, height: u32, longest_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    let side = longest_side.max(1);
    if longest <= side {
        return (width, height);
    }
    let scale = |short: u32| -> u32 {
        let scaled =
            (u64::from(short) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(side).max(1)
    };
    if width >= height {
        (side, scale(height))
    } else {
        (scale(width), side)
    }
}

/// Resize `pixels` (`size`, tightly packed) to `target`. `valid` crops the source to its
/// meaningful part first (a JPEG plane is padded to whole blocks); it may be fractional, so
/// chroma planes stay aligned with luma. Returns the input untouched when there is nothing to do.
pub fn resize(
    pixels: Vec<u8>,
    size: (u32, u32),
    target: (u32, u32),
    channels: Channels,
    valid: Option<(f64, f64)>,
) -> Result<Vec<u8>, ImageError> {
    let full = (f64::from(size.0), f64::from(size.1));
    if size == target && valid.is_none_or(|v| v == full) {
        return Ok(pixels);
    }
    let pixel_type = channels.pixel_type();
    let source = fir::images::ImageRef::new(size.0, size.1, &pixels, pixel_type)
        .map_err(|e| ImageError::corrupt(format!("resize source: {e}")))?;
    let mut destination = fir::images::Image::new(target.0, target.1, pixel_type);
    let (crop_width, crop_height) = valid.unwrap_or(full);
    let options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3))
        .crop(0.0, 0.0, crop_width, crop_height);
    match channels {
        Channels::Gray => resize_as::<U8>(&source, &mut destination, &options),
        Channels::Rgb => resize_as::<U8x3>(&source, &mut destination, &options),
        Channels::Rgba => resize_as::<U8x4>(&source, &mut destination, &options),
    }?;
    Ok(destination.into_vec())
}

fn resize_as<P: PixelTrait>(
    source: &fir::images::ImageRef<'_>,
    destination: &mut fir::images::Image<'_>,
    options: &fir::ResizeOptions,
) -> Result<(), ImageError> {
    let (Some(source), Some(mut destination)) =
        (source.image_view::<P>(), destination.image_view_mut::<P>())
    else {
        return Err(ImageError::corrupt("resize: pixel type mismatch"));
    };
    fir::Resizer::new()
        .resize_typed(&source, &mut destination, options)
        .map_err(|e| ImageError::corrupt(format!("resize: {e}")))
}
