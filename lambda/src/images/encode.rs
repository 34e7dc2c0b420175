//! Re-encoding. Only pixels go in, so nothing of the input's metadata (EXIF, ICC, XMP) can
//! come out: jpeg-encoder writes a bare JFIF header, the PNG encoder only the critical chunks.

use super::ImageError;

/// JPEG quality for reference images: visually clean, a third the size of quality 95.
pub(super) const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy)]
pub(super) enum JpegInput {
    Rgb,
    /// Already YCbCr (the JPEG fast path never converts to RGB and back).
    Ycbcr,
    Luma,
}

pub(super) fn jpeg(
    pixels: &[u8],
    width: u32,
    height: u32,
    input: JpegInput,
) -> Result<Vec<u8>, ImageError> {
    let too_large = || ImageError::TooLarge { width, height };
    let w = u16::try_from(width).map_err(|_| too_large())?;
    let h = u16::try_from(height).map_err(|_| too_large())?;
    let color = match input {
        JpegInput::Rgb => jpeg_encoder::ColorType::Rgb,
        JpegInput::Ycbcr => jpeg_encoder::ColorType::Ycbcr,
        JpegInput::Luma => jpeg_encoder::ColorType::Luma,
    };
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY);
    // 4:2:0 like every camera and libvips; averaging (not picking) the chroma avoids aliasing.
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
    // Standard Huffman tables. jpeg-encoder 0.7's optimized tables are ~3% smaller but, for
    // flat colour areas, produce streams that decode to wrong colours (seen with image 0.25):
    // correctness first. `flat_colours_survive_encoding` in the tests guards this.
    encoder
        .encode(pixels, w, h, color)
        .map_err(|e| ImageError::corrupt(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

pub(super) fn png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ImageError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| ImageError::corrupt(format!("PNG encoding: {e}")))?;
    Ok(out)
}
