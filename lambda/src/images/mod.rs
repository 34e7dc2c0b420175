//! Interim reference-image preparation (replaced by the full implementation on merge).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
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
}

pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

#[derive(Debug, Clone)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub longest_side: u32,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 12_000,
            max_height: 12_000,
            max_pixels: 40_000_000,
            longest_side: 1536,
        }
    }
}

pub struct PreparedImage {
    pub format: ImageFormat,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not a PNG, JPEG or WebP image")]
    Unsupported,
    #[error("image is {got} bytes, over the {max}-byte limit")]
    TooManyBytes { got: usize, max: usize },
    #[error("image is {width}x{height}, over the size limit")]
    TooLarge { width: u32, height: u32 },
    #[error("image data is corrupt: {0}")]
    Corrupt(String),
}

impl ImageError {
    pub fn issue(&self) -> &'static str {
        match self {
            ImageError::Unsupported => "unsupported_format",
            ImageError::TooManyBytes { .. } => "too_many_bytes",
            ImageError::TooLarge { .. } => "dimensions_too_large",
            ImageError::Corrupt(_) => "corrupt",
        }
    }
}

pub fn dimensions(bytes: &[u8]) -> Option<(ImageFormat, u32, u32)> {
    let format = sniff(bytes)?;
    let (w, h) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    Some((format, w, h))
}

pub fn prepare_reference(bytes: &[u8], limits: &ImageLimits) -> Result<PreparedImage, ImageError> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooManyBytes {
            got: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let (format, width, height) = match sniff(bytes) {
        None => return Err(ImageError::Unsupported),
        Some(_) => {
            dimensions(bytes).ok_or_else(|| ImageError::Corrupt("unreadable header".into()))?
        }
    };
    if width > limits.max_width
        || height > limits.max_height
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ImageError::TooLarge { width, height });
    }
    let img = image::load_from_memory(bytes).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let img = if width.max(height) > limits.longest_side {
        img.thumbnail(limits.longest_side, limits.longest_side)
    } else {
        img
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let _ = format;
    Ok(PreparedImage {
        format: ImageFormat::Png,
        data: out.into_inner(),
        width: img.width(),
        height: img.height(),
    })
}
