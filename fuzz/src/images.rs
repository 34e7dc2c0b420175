//! The bodies of the reference-image fuzz targets, shared with the stable replay test
//! (`lambda/images/tests/fuzz_corpus.rs` includes this file with `#[path]`): a finding replays
//! through exactly the code that found it.
//!
//! Each function panics when an invariant breaks; an `Err` from the crate is a normal outcome.
//! They return the refusal's issue code (`Err("corrupt")`, …), so the replay test can tell that
//! the valid seeds are still accepted.

use imagegen_images::{
    ImageError, ImageFormat, ImageInfo, ImageLimits, PreparedImage, dimensions, inspect,
    prepare_reference, transcode,
};

/// `prepare_reference` with the production limits, as the API runs it on an upload.
pub fn prepare_default(data: &[u8]) -> Result<(), &'static str> {
    prepare_and_check(data, &ImageLimits::default())
}

/// `prepare_reference` with a small `longest_side` taken from the first byte (1..=256), so the
/// inputs a corpus can afford (a few KB) still reach the JPEG reduced-size decoder, which only
/// runs for images at least twice the target.
pub fn prepare_small(data: &[u8]) -> Result<(), &'static str> {
    let Some((&side, image)) = data.split_first() else {
        return Err("empty");
    };
    let limits = ImageLimits {
        longest_side: u32::from(side) + 1,
        ..ImageLimits::default()
    };
    prepare_and_check(image, &limits)
}

/// `transcode` (a model's image into the format a client asked for): the first byte picks the
/// format (mod 3), whether a quality is asked (its bit 7) and the quality (mod 100, plus 1).
/// Whatever comes out is an image of that format, at the input's size (turned by its EXIF
/// orientation at most), that decodes.
pub fn transcode_any(data: &[u8]) -> Result<(), &'static str> {
    let Some((&selector, image)) = data.split_first() else {
        return Err("empty");
    };
    let to = ImageFormat::ALL[usize::from(selector) % 3];
    let quality = (selector & 0x80 != 0).then_some(selector % 100 + 1);
    let limits = ImageLimits::default();
    let info = inspect(image, &limits);
    let out = transcode(image, to, quality, &limits);
    match (&info, &out) {
        (Ok(info), Ok(out)) => {
            assert_eq!(out.format, to, "asked for {to:?}");
            let (w, h) = (out.width, out.height);
            assert!(
                (w, h) == (info.width, info.height) || (h, w) == (info.width, info.height),
                "{w}x{h} from {}x{}",
                info.width,
                info.height
            );
            assert_eq!(
                dimensions(&out.data),
                Some((to, w, h)),
                "the transcoded header disagrees"
            );
            match image::load_from_memory(&out.data) {
                Ok(decoded) => assert_eq!((decoded.width(), decoded.height()), (w, h)),
                Err(e) => panic!("transcoded {to:?} does not decode: {e}"),
            }
        }
        (Err(_), Ok(_)) => panic!("transcode accepted what inspect refused: {info:?}"),
        _ => {}
    }
    out.map(drop).map_err(|e| e.issue())
}

/// The header-only paths: `inspect` (limits checked) and `dimensions` (trusted images).
pub fn header(data: &[u8]) -> Result<(), &'static str> {
    let limits = ImageLimits::default();
    let info = inspect(data, &limits);
    let dims = dimensions(data);
    if let Ok(info) = &info {
        assert_eq!(
            dims,
            Some((info.format, info.width, info.height)),
            "inspect accepted what dimensions cannot read"
        );
        assert!(info.width > 0 && info.height > 0);
        assert!(info.width <= limits.max_width && info.height <= limits.max_height);
        assert!(u64::from(info.width) * u64::from(info.height) <= limits.max_pixels);
    }
    if let Err(ImageError::Unsupported) = info {
        assert_eq!(dims, None, "an unsupported format has dimensions");
    }
    info.map(drop).map_err(|e| e.issue())
}

fn prepare_and_check(data: &[u8], limits: &ImageLimits) -> Result<(), &'static str> {
    let info = inspect(data, limits);
    let prepared = prepare_reference(data, limits);
    match (&info, &prepared) {
        (Ok(info), Ok(prepared)) => check_prepared(info, prepared, limits),
        (Err(_), Ok(_)) => panic!("prepare_reference accepted what inspect refused: {info:?}"),
        _ => {}
    }
    prepared.map(drop).map_err(|e| e.issue())
}

/// What a caller relies on in a prepared image.
fn check_prepared(info: &ImageInfo, prepared: &PreparedImage, limits: &ImageLimits) {
    let (w, h) = (prepared.width, prepared.height);
    let side = limits.longest_side.max(1);
    assert!(w > 0 && h > 0, "empty output {w}x{h}");
    assert!(
        w.max(h) <= side,
        "output {w}x{h} over longest_side {side} (input {}x{})",
        info.width,
        info.height
    );
    // Scaled down to exactly the limit, or kept (maybe turned by EXIF): never up, never more.
    let (in_long, in_short) = (info.width.max(info.height), info.width.min(info.height));
    assert_eq!(
        w.max(h),
        in_long.min(side),
        "longest side of {w}x{h} from {}x{} with limit {side}",
        info.width,
        info.height
    );
    if in_long <= side {
        assert_eq!(
            (w.max(h), w.min(h)),
            (in_long, in_short),
            "an image within the limit changed size"
        );
    } else {
        // Aspect ratio kept, give or take the rounding of the short side.
        let short = (u64::from(in_short) * u64::from(side) / u64::from(in_long)).max(1);
        assert!(
            u64::from(w.min(h)).abs_diff(short) <= 1,
            "{w}x{h} from {}x{} distorts the aspect ratio",
            info.width,
            info.height
        );
    }
    assert!(
        matches!(prepared.format, ImageFormat::Jpeg | ImageFormat::Png),
        "prepared as {:?}",
        prepared.format
    );
    // The bytes sent on must decode, to the size we claim.
    assert_eq!(
        dimensions(&prepared.data),
        Some((prepared.format, w, h)),
        "the prepared header disagrees"
    );
    let format = match prepared.format {
        ImageFormat::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::Jpeg,
    };
    match image::load_from_memory_with_format(&prepared.data, format) {
        Ok(decoded) => assert_eq!(
            (decoded.width(), decoded.height()),
            (w, h),
            "re-decoded size"
        ),
        Err(e) => panic!("the prepared {format:?} does not decode: {e}"),
    }
}
