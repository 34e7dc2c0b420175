//! Re-encoding. Only pixels go in, so nothing of the input's metadata (EXIF, ICC, XMP) can
//! come out: jpeg-encoder writes a bare JFIF header, the PNG encoder only the critical chunks.

use super::ImageError;

/// JPEG quality for reference images: visually clean, a third the size of quality 95.
pub const JPEG_QUALITY: u8 = 85;

/// What the JPEG encoder is given.
#[derive(Debug, Clone, Copy)]
pub enum JpegInput<'a> {
    /// Interleaved RGB.
    Rgb(&'a [u8]),
    /// Grey.
    Luma(&'a [u8]),
    /// Separate planes, chroma at half width and height (rounded up): what the JPEG fast path
    /// produces. Handed over plane by plane, so nothing is ever converted or interleaved.
    Ycbcr420 {
        y: &'a [u8],
        cb: &'a [u8],
        cr: &'a [u8],
    },
}

pub fn jpeg(input: JpegInput<'_>, width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    jpeg_at(input, width, height, JPEG_QUALITY)
}

/// [`jpeg`] at `quality` (1..=100; jpeg-encoder clamps).
pub fn jpeg_at(
    input: JpegInput<'_>,
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, ImageError> {
    let too_large = || ImageError::TooLarge { width, height };
    let w = u16::try_from(width).map_err(|_| too_large())?;
    let h = u16::try_from(height).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(width as usize * height as usize / 4);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    // 4:2:0 like every camera and libvips. From RGB, average each 2x2 chroma block (picking
    // one pixel aliases); planar chroma is already at half size and repeated 2x2, so picking
    // the top-left pixel is exact and saves the averaging pass.
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.set_chroma_subsampling_method(match input {
        JpegInput::Ycbcr420 { .. } => jpeg_encoder::ChromaSubsamplingMethod::Nearest,
        JpegInput::Rgb(_) | JpegInput::Luma(_) => jpeg_encoder::ChromaSubsamplingMethod::Average,
    });
    // Standard Huffman tables. jpeg-encoder 0.7's optimized tables are ~3% smaller but, for
    // flat colour areas, produce streams that decode to wrong colours (seen with image 0.25):
    // correctness first. `flat_colours_survive_encoding` in the tests guards this.
    let result = match input {
        JpegInput::Rgb(rgb) => encoder.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb),
        JpegInput::Luma(luma) => encoder.encode(luma, w, h, jpeg_encoder::ColorType::Luma),
        JpegInput::Ycbcr420 { y, cb, cr } => {
            let chroma_width = usize::from(w.div_ceil(2));
            let rows = usize::from(h.div_ceil(2));
            if y.len() != usize::from(w) * usize::from(h)
                || cb.len() != chroma_width * rows
                || cr.len() != chroma_width * rows
            {
                return Err(ImageError::corrupt(
                    "YCbCr planes do not match the dimensions",
                ));
            }
            encoder.encode_image(Planar {
                y,
                cb,
                cr,
                width: w,
                height: h,
            })
        }
    };
    result.map_err(|e| ImageError::corrupt(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

/// Planar 4:2:0 YCbCr as jpeg-encoder's row source (sizes checked by the caller).
struct Planar<'a> {
    y: &'a [u8],
    cb: &'a [u8],
    cr: &'a [u8],
    width: u16,
    height: u16,
}

impl jpeg_encoder::ImageBuffer for Planar<'_> {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        jpeg_encoder::JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, row: u16, buffers: &mut [Vec<u8>; 4]) {
        let (width, row) = (usize::from(self.width), usize::from(row));
        let chroma_width = width.div_ceil(2);
        let chroma_row = row / 2 * chroma_width;
        if let Some(luma) = self.y.get(row * width..(row + 1) * width) {
            buffers[0].extend_from_slice(luma);
        }
        for (buffer, plane) in buffers[1..3].iter_mut().zip([self.cb, self.cr]) {
            if let Some(chroma) = plane.get(chroma_row..chroma_row + chroma_width) {
                // Each chroma sample twice, as whole pairs: a `flat_map` here cost 4% of the
                // preparation, and `fill` on 2-byte chunks a memset call per pair.
                let start = buffer.len();
                buffer.resize(start + width, 0);
                let (pairs, odd) = buffer[start..].as_chunks_mut::<2>();
                for (pair, sample) in pairs.iter_mut().zip(chroma) {
                    *pair = [*sample; 2];
                }
                if let (Some(last), Some(sample)) = (odd.first_mut(), chroma.last()) {
                    *last = *sample;
                }
            }
        }
    }
}

/// Lossy WebP at `quality` (1..=100), alpha kept, by libwebp.
pub fn webp_lossy(
    rgba: &[u8],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, ImageError> {
    let expected = u64::from(width) * u64::from(height) * 4;
    // The wrapper trusts the buffer's length; libwebp reads width x height pixels from it.
    if width == 0 || height == 0 || rgba.len() as u64 != expected {
        return Err(ImageError::corrupt(
            "WebP encoding: pixels and size disagree",
        ));
    }
    let encoded = webp::Encoder::from_rgba(rgba, width, height)
        .encode_simple(false, f32::from(quality.clamp(1, 100)))
        .map_err(|e| ImageError::corrupt(format!("WebP encoding: {e:?}")))?;
    Ok(encoded.to_vec())
}

/// Lossless WebP (image-webp's encoder).
pub fn webp(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| ImageError::corrupt(format!("WebP encoding: {e}")))?;
    Ok(out)
}

pub fn png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| ImageError::corrupt(format!("PNG encoding: {e}")))?;
    Ok(out)
}
