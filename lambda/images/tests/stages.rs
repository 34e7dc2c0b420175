//! Each stage of preparing a reference image, and the whole: every image is generated here,
//! small enough for a debug build.

// Assertions unwrap, in helpers too (clippy's allow-unwrap-in-tests covers only #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use image::DynamicImage;
use image::metadata::Orientation;
use imagegen_images::*;
use imagegen_images::{encode, jpeg, resize};

/// Smooth gradients plus mild texture: compresses like a photo, not like noise.
fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let texture = (((x * 7 + y * 13) % 17) as f32 - 8.0) * 1.5;
            rgb.push((40.0 + 180.0 * fx + texture).clamp(0.0, 255.0) as u8);
            rgb.push((200.0 - 150.0 * fy + texture).clamp(0.0, 255.0) as u8);
            rgb.push((90.0 + 100.0 * (fx * 6.0).sin() * fy).clamp(0.0, 255.0) as u8);
        }
    }
    rgb
}

/// Left half red, right half blue: shows which way an image was turned.
fn halves(width: u32, height: u32) -> Vec<u8> {
    (0..height)
        .flat_map(|_| {
            (0..width).map(|x| {
                if x < width / 2 {
                    [220, 20, 20]
                } else {
                    [20, 20, 220]
                }
            })
        })
        .flatten()
        .collect()
}

struct Jpeg {
    sampling: jpeg_encoder::SamplingFactor,
    restart: Option<u16>,
    progressive: bool,
    gray: bool,
}

impl Default for Jpeg {
    fn default() -> Self {
        Self {
            sampling: jpeg_encoder::SamplingFactor::F_2_2,
            restart: None,
            progressive: false,
            gray: false,
        }
    }
}

impl Jpeg {
    fn encode(&self, rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(self.sampling);
        encoder.set_progressive(self.progressive);
        if let Some(interval) = self.restart {
            encoder.set_restart_interval(interval);
        }
        let (pixels, color) = if self.gray {
            let luma: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
            (luma, jpeg_encoder::ColorType::Luma)
        } else {
            (rgb.to_vec(), jpeg_encoder::ColorType::Rgb)
        };
        encoder
            .encode(&pixels, width as u16, height as u16, color)
            .expect("encode test JPEG");
        out
    }
}

/// A TIFF/EXIF block with an Orientation tag and a GPS IFD holding GPSLatitudeRef = "N".
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big endian, IFD0 at 8
    t.extend_from_slice(&2u16.to_be_bytes()); // two entries
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]); // Orientation, SHORT, 1
    t.extend_from_slice(&orientation.to_be_bytes());
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1]); // GPSInfo IFD pointer, LONG, 1
    t.extend_from_slice(&38u32.to_be_bytes()); // 8 + 2 + 2*12 + 4
    t.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    t.extend_from_slice(&1u16.to_be_bytes()); // GPS IFD: one entry
    t.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef "N"
    t.extend_from_slice(&0u32.to_be_bytes());
    t
}

/// Insert APP1 (EXIF) and APP2 (ICC) segments right after SOI, as a camera would.
fn with_metadata(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_tiff(orientation));
    let mut icc = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc.extend_from_slice(&[0u8; 32]);
    let mut out = jpeg[..2].to_vec();
    for (marker, payload) in [(0xE1u8, exif), (0xE2, icc)] {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(&payload);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn png(pixels: &[u8], width: u32, height: u32, color: image::ExtendedColorType) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(pixels, width, height, color)
        .expect("encode test PNG");
    out
}

fn webp(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
        .expect("encode test WebP");
    out
}

/// A PNG that is nothing but a signature and an IHDR claiming `width` x `height`.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(b"IHDR");
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    out.extend_from_slice(&[0; 4]); // CRC, never read
    out
}

fn limits(longest_side: u32) -> ImageLimits {
    ImageLimits {
        longest_side,
        ..ImageLimits::default()
    }
}

fn decode(prepared: &PreparedImage) -> image::RgbaImage {
    image::load_from_memory(&prepared.data)
        .expect("prepared image decodes")
        .into_rgba8()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10()
}

/// Luma and the two chroma channels (JFIF), rounded to bytes, of an RGBA image.
fn ycbcr(image: &image::RgbaImage) -> (Vec<u8>, Vec<u8>) {
    let (mut luma, mut chroma) = (Vec::new(), Vec::new());
    for p in image.pixels() {
        let [r, g, b] = [p.0[0], p.0[1], p.0[2]].map(f64::from);
        let clamp = |v: f64| v.round().clamp(0.0, 255.0) as u8;
        luma.push(clamp(0.299 * r + 0.587 * g + 0.114 * b));
        chroma.push(clamp(128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b));
        chroma.push(clamp(128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b));
    }
    (luma, chroma)
}

fn is_red(p: &image::Rgba<u8>) -> bool {
    p.0[0] > 150 && p.0[2] < 100
}

fn is_blue(p: &image::Rgba<u8>) -> bool {
    p.0[2] > 150 && p.0[0] < 100
}

#[test]
fn sniffs_by_magic_bytes_only() {
    let rgb = photo(8, 8);
    assert_eq!(
        sniff(&Jpeg::default().encode(&rgb, 8, 8)),
        Some(ImageFormat::Jpeg)
    );
    assert_eq!(
        sniff(&png(&rgb, 8, 8, image::ExtendedColorType::Rgb8)),
        Some(ImageFormat::Png)
    );
    assert_eq!(sniff(&webp(&[0; 256], 8, 8)), Some(ImageFormat::Webp));
    assert_eq!(sniff(b"GIF89a\x01\x00\x01\x00"), None);
    assert_eq!(sniff(b"<html>not an image</html>"), None);
    assert_eq!(sniff(b""), None);
}

#[test]
fn formats_name_their_mime_type_and_extension() {
    assert_eq!(ImageFormat::Png.mime_type(), "image/png");
    assert_eq!(ImageFormat::Jpeg.mime_type(), "image/jpeg");
    assert_eq!(ImageFormat::Webp.mime_type(), "image/webp");
    assert_eq!(ImageFormat::Jpeg.extension(), "jpg");
    assert_eq!(ImageFormat::Png.extension(), "png");
    assert_eq!(ImageFormat::Webp.extension(), "webp");
}

#[test]
fn errors_map_to_issues() {
    assert_eq!(ImageError::Unsupported.issue(), "unsupported_format");
    assert_eq!(
        ImageError::TooManyBytes { actual: 2, max: 1 }.issue(),
        "too_many_bytes"
    );
    assert_eq!(
        ImageError::TooLarge {
            width: 1,
            height: 1
        }
        .issue(),
        "dimensions_too_large"
    );
    assert_eq!(ImageError::Corrupt("x".into()).issue(), "corrupt");
}

#[test]
fn dimensions_read_every_header() {
    let rgb = photo(30, 20);
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let jpeg = Jpeg::default().encode(&rgb, 30, 20);
    assert_eq!(dimensions(&jpeg), Some((ImageFormat::Jpeg, 30, 20)));
    let png = png(&rgb, 30, 20, image::ExtendedColorType::Rgb8);
    assert_eq!(dimensions(&png), Some((ImageFormat::Png, 30, 20)));
    assert_eq!(
        dimensions(&webp(&rgba, 30, 20)),
        Some((ImageFormat::Webp, 30, 20))
    );
    assert_eq!(dimensions(b"GIF89a"), None);
    let info = inspect(&jpeg, &ImageLimits::default()).expect("inspect");
    assert_eq!(
        info,
        ImageInfo {
            format: ImageFormat::Jpeg,
            width: 30,
            height: 20
        }
    );
}

#[test]
fn jpeg_in_jpeg_out() {
    let jpeg = Jpeg::default().encode(&photo(64, 48), 64, 48);
    let out = prepare_reference(&jpeg, &ImageLimits::default()).expect("prepare");
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 64, 48)
    );
    assert_eq!(sniff(&out.data), Some(ImageFormat::Jpeg));
    assert_eq!(decode(&out).dimensions(), (64, 48));
}

#[test]
fn opaque_png_becomes_jpeg() {
    let rgb = photo(40, 30);
    let out = prepare_reference(
        &png(&rgb, 40, 30, image::ExtendedColorType::Rgb8),
        &limits(1536),
    )
    .expect("prepare");
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 40, 30)
    );
    // An alpha channel nobody uses is not transparency.
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let out = prepare_reference(
        &png(&rgba, 40, 30, image::ExtendedColorType::Rgba8),
        &limits(1536),
    )
    .expect("prepare");
    assert_eq!(out.format, ImageFormat::Jpeg);
}

#[test]
fn transparent_png_stays_png_with_alpha() {
    let mut rgba: Vec<u8> = photo(40, 30)
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    for pixel in rgba.chunks_exact_mut(4).take(40 * 10) {
        pixel[3] = 0;
    }
    let out = prepare_reference(
        &png(&rgba, 40, 30, image::ExtendedColorType::Rgba8),
        &limits(20),
    )
    .expect("prepare");
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Png, 20, 15)
    );
    let decoded = decode(&out);
    assert_eq!(decoded.get_pixel(10, 0).0[3], 0);
    assert_eq!(decoded.get_pixel(10, 14).0[3], 255);
}

#[test]
fn webp_in_jpeg_out() {
    let rgba: Vec<u8> = photo(50, 40)
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let out = prepare_reference(&webp(&rgba, 50, 40), &limits(25)).expect("prepare");
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 25, 20)
    );
    assert_eq!(decode(&out).dimensions(), (25, 20));
}

#[test]
fn orientation_6_is_applied_on_the_full_decode_path() {
    let jpeg = with_metadata(&Jpeg::default().encode(&halves(20, 10), 20, 10), 6);
    let out = prepare_reference(&jpeg, &ImageLimits::default()).expect("prepare");
    assert_eq!((out.width, out.height), (10, 20));
    // Rotated 90 degrees clockwise: the left (red) half is now on top.
    let decoded = decode(&out);
    assert!(
        is_red(decoded.get_pixel(5, 2)),
        "{:?}",
        decoded.get_pixel(5, 2)
    );
    assert!(
        is_blue(decoded.get_pixel(5, 17)),
        "{:?}",
        decoded.get_pixel(5, 17)
    );
}

#[test]
fn orientation_6_is_applied_on_the_scaled_decode_path() {
    let jpeg = with_metadata(&Jpeg::default().encode(&halves(400, 200), 400, 200), 6);
    let out = prepare_reference(&jpeg, &limits(100)).expect("prepare");
    assert_eq!((out.width, out.height), (50, 100));
    let decoded = decode(&out);
    assert!(
        is_red(decoded.get_pixel(25, 10)),
        "{:?}",
        decoded.get_pixel(25, 10)
    );
    assert!(
        is_blue(decoded.get_pixel(25, 90)),
        "{:?}",
        decoded.get_pixel(25, 90)
    );
}

#[test]
fn metadata_is_stripped() {
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    for (size, longest) in [((32, 24), 1536), ((400, 300), 100)] {
        let jpeg = with_metadata(
            &Jpeg::default().encode(&photo(size.0, size.1), size.0, size.1),
            1,
        );
        assert!(contains(&jpeg, b"Exif\0\0") && contains(&jpeg, b"ICC_PROFILE"));
        let out = prepare_reference(&jpeg, &limits(longest)).expect("prepare");
        for needle in [
            &b"Exif"[..],
            b"ICC_PROFILE",
            b"MM\0\x2a",
            b"http://ns.adobe.com",
        ] {
            assert!(
                !contains(&out.data, needle),
                "output still holds {needle:?}"
            );
        }
        assert!(!contains(&out.data, &[0xFF, 0xE1]) && !contains(&out.data, &[0xFF, 0xE2]));
    }
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    // 100000 x 100000 RGBA would be 40 GB, more than this machine has: had anything
    // allocated the buffer, the test process would have died instead of getting an error.
    let bomb = png_header_only(100_000, 100_000);
    let limits = ImageLimits::default();
    assert!(matches!(
        inspect(&bomb, &limits),
        Err(ImageError::TooLarge {
            width: 100_000,
            height: 100_000
        })
    ));
    let err = prepare_reference(&bomb, &limits).expect_err("refused");
    assert_eq!(err.issue(), "dimensions_too_large");
    // Within width and height limits but over the pixel budget.
    let wide = png_header_only(11_000, 11_000);
    assert!(matches!(
        inspect(&wide, &limits),
        Err(ImageError::TooLarge { .. })
    ));
}

#[test]
fn decoder_limits_are_a_second_guard() {
    // Pretend the header check let it through: the decoder's own limits still refuse.
    let data = png(&photo(64, 64), 64, 64, image::ExtendedColorType::Rgb8);
    let info = ImageInfo {
        format: ImageFormat::Png,
        width: 64,
        height: 64,
    };
    let tight = ImageLimits {
        max_width: 32,
        max_height: 32,
        max_pixels: 1024,
        ..ImageLimits::default()
    };
    assert!(matches!(
        decode_with_image(&data, &info, &tight),
        Err(ImageError::TooLarge { .. })
    ));
}

#[test]
fn limits_are_respected() {
    let jpeg = Jpeg::default().encode(&photo(64, 48), 64, 48);
    let small = ImageLimits {
        max_bytes: 100,
        ..ImageLimits::default()
    };
    assert!(matches!(
        prepare_reference(&jpeg, &small),
        Err(ImageError::TooManyBytes { max: 100, .. })
    ));
    let narrow = ImageLimits {
        max_width: 63,
        ..ImageLimits::default()
    };
    assert!(matches!(
        prepare_reference(&jpeg, &narrow),
        Err(ImageError::TooLarge {
            width: 64,
            height: 48
        })
    ));
    let short = ImageLimits {
        max_height: 47,
        ..ImageLimits::default()
    };
    assert!(matches!(
        prepare_reference(&jpeg, &short),
        Err(ImageError::TooLarge { .. })
    ));
    let few = ImageLimits {
        max_pixels: 64 * 48 - 1,
        ..ImageLimits::default()
    };
    assert!(matches!(
        prepare_reference(&jpeg, &few),
        Err(ImageError::TooLarge { .. })
    ));
    let exact = ImageLimits {
        max_width: 64,
        max_height: 48,
        max_pixels: 64 * 48,
        longest_side: 32,
        max_bytes: jpeg.len(),
        max_decode_memory: ImageLimits::default().max_decode_memory,
    };
    let out = prepare_reference(&jpeg, &exact).expect("at the limits is fine");
    assert_eq!((out.width, out.height), (32, 24));
}

#[test]
fn non_images_and_gifs_are_unsupported() {
    let limits = ImageLimits::default();
    assert!(matches!(
        prepare_reference(b"hello, world", &limits),
        Err(ImageError::Unsupported)
    ));
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert!(matches!(
        prepare_reference(gif, &limits),
        Err(ImageError::Unsupported)
    ));
    assert_eq!(ImageError::Unsupported.issue(), "unsupported_format");
}

#[test]
fn truncated_and_corrupt_data_is_corrupt() {
    let check = |bytes: &[u8], longest: u32, what: &str| {
        let result = prepare_reference(bytes, &limits(longest));
        assert!(
            matches!(result, Err(ImageError::Corrupt(_))),
            "{what}: {result:?}"
        );
    };
    let big = Jpeg::default().encode(&photo(400, 300), 400, 300);
    check(&big[..big.len() / 2], 100, "truncated JPEG, scaled path");
    let small = Jpeg::default().encode(&photo(64, 48), 64, 48);
    check(&small[..small.len() / 2], 1536, "truncated JPEG, full path");
    let progressive = Jpeg {
        progressive: true,
        ..Jpeg::default()
    }
    .encode(&photo(64, 48), 64, 48);
    check(
        &progressive[..progressive.len() / 2],
        1536,
        "truncated progressive JPEG",
    );
    check(&small[..20], 1536, "JPEG cut inside its headers");
    let png = png(&photo(64, 48), 64, 48, image::ExtendedColorType::Rgb8);
    check(&png[..png.len() / 2], 1536, "truncated PNG");
    check(&png[..18], 1536, "PNG cut inside IHDR");
    let mut garbled = png.clone();
    for byte in garbled.iter_mut().skip(60).take(40) {
        *byte ^= 0x5A;
    }
    check(&garbled, 1536, "garbled PNG");
    check(b"RIFF\0\0\0\0WEBPVP8 ", 1536, "WebP without a frame");
}

#[test]
fn large_images_are_downscaled_to_the_longest_side() {
    // Flat colour keeps the debug-build decode fast; the geometry is what is under test.
    let jpeg = Jpeg::default().encode(&vec![128; 3000 * 2000 * 3], 3000, 2000);
    let out = prepare_reference(&jpeg, &ImageLimits::default()).expect("prepare");
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::Jpeg, 1536, 1024)
    );
    assert_eq!(decode(&out).dimensions(), (1536, 1024));
    let tall = png(
        &vec![90; 500 * 1000 * 3],
        500,
        1000,
        image::ExtendedColorType::Rgb8,
    );
    let out = prepare_reference(&tall, &limits(300)).expect("prepare");
    assert_eq!((out.width, out.height), (150, 300));
}

#[test]
fn small_images_are_never_upscaled() {
    let jpeg = Jpeg::default().encode(&photo(100, 80), 100, 80);
    let out = prepare_reference(&jpeg, &ImageLimits::default()).expect("prepare");
    assert_eq!((out.width, out.height), (100, 80));
}

#[test]
fn fit_keeps_the_aspect_ratio() {
    assert_eq!(resize::fit(4000, 3000, 1536), (1536, 1152));
    assert_eq!(resize::fit(3000, 2000, 1536), (1536, 1024));
    assert_eq!(resize::fit(2000, 3000, 1536), (1024, 1536));
    assert_eq!(resize::fit(1536, 10, 1536), (1536, 10));
    assert_eq!(resize::fit(10_000, 1, 1536), (1536, 1));
    assert_eq!(resize::fit(20, 10, 1536), (20, 10));
}

#[test]
fn shrink_factor_keeps_at_least_the_target() {
    assert_eq!(jpeg::shrink_factor((4000, 3000), (1536, 1152)), 2);
    assert_eq!(jpeg::shrink_factor((8000, 6000), (1536, 1152)), 4);
    assert_eq!(jpeg::shrink_factor((1600, 1200), (200, 150)), 8);
    assert_eq!(jpeg::shrink_factor((3000, 2000), (1536, 1024)), 1);
}

/// The scaled decoder against zune-jpeg's full decode followed by the same resize.
#[test]
fn scaled_decode_matches_a_full_decode() {
    use jpeg_encoder::SamplingFactor as S;
    let (width, height) = (328, 248); // not a multiple of the MCU size
    let rgb = photo(width, height);
    let cases = [
        ("4:2:0", Jpeg::default()),
        (
            "4:4:4",
            Jpeg {
                sampling: S::F_1_1,
                ..Jpeg::default()
            },
        ),
        (
            "4:2:2",
            Jpeg {
                sampling: S::F_2_1,
                ..Jpeg::default()
            },
        ),
        (
            "4:4:0",
            Jpeg {
                sampling: S::F_1_2,
                ..Jpeg::default()
            },
        ),
        (
            "restarts",
            Jpeg {
                restart: Some(3),
                ..Jpeg::default()
            },
        ),
        (
            "grey",
            Jpeg {
                gray: true,
                ..Jpeg::default()
            },
        ),
        (
            "grey restarts",
            Jpeg {
                gray: true,
                restart: Some(5),
                ..Jpeg::default()
            },
        ),
    ];
    for (name, settings) in cases {
        let data = settings.encode(&rgb, width, height);
        for longest in [160, 80, 40] {
            let parsed = jpeg::parse(&data).expect("parse");
            let target = resize::fit(width, height, longest);
            let scale = jpeg::shrink_factor((width, height), target);
            assert!(scale > 1, "{name}: {longest} should shrink on load");
            assert!(
                jpeg::decode_scaled(&parsed, &data, scale)
                    .expect("decode")
                    .is_some(),
                "{name}: fast path"
            );

            let ours = decode(&prepare_reference(&data, &limits(longest)).expect("prepare"));
            let full = jpeg::decode_full(&data, &ImageLimits::default(), (width, height))
                .expect("full decode");
            let reference = finish(full, Orientation::NoTransforms, target).expect("reference");
            let reference = decode(&reference);
            assert_eq!(ours.dimensions(), reference.dimensions(), "{name}");
            let quality = psnr(ours.as_raw(), reference.as_raw());
            assert!(
                quality > 40.0,
                "{name} at {longest}px: PSNR {quality:.1} dB"
            );
        }
    }
}

/// Each sample of a 1/s decode is the mean of the s x s full-size samples it replaces: checked
/// sample by sample on detail at every frequency (grain and sharp edges), where a wrong weight
/// or sign in the folded transform shows at once. The end-to-end test above resizes afterwards,
/// which hides such errors in smooth pictures.
#[test]
fn scaled_samples_are_the_means_of_the_full_decode() {
    let (width, height) = (96u32, 64u32);
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            // Grain plus edges; kept within 40..=215 so the full decode never clips.
            let grain =
                (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761) >> 26;
            let edge = if (x / 3 + y / 5) % 2 == 0 { 60 } else { 0 };
            let value = (40 + grain * 2 + edge) as u8;
            rgb.extend_from_slice(&[value; 3]);
        }
    }
    let data = Jpeg {
        gray: true,
        ..Jpeg::default()
    }
    .encode(&rgb, width, height);
    let full = jpeg::decode_full(&data, &ImageLimits::default(), (width, height))
        .expect("full decode")
        .into_luma8();
    let parsed = jpeg::parse(&data).expect("parse");
    for scale in [2u32, 4, 8] {
        let planes = jpeg::decode_scaled(&parsed, &data, scale)
            .expect("decode")
            .expect("fast path");
        let plane = &planes.planes[0];
        let (mut worst, mut total) = (0f64, 0f64);
        for y in 0..height / scale {
            for x in 0..width / scale {
                let mut sum = 0f64;
                for j in 0..scale {
                    for i in 0..scale {
                        sum += f64::from(full.get_pixel(x * scale + i, y * scale + j).0[0]);
                    }
                }
                let mean = sum / f64::from(scale * scale);
                let ours = f64::from(plane.pixels[(y * plane.width + x) as usize]);
                worst = worst.max((ours - mean).abs());
                total += (ours - mean).abs();
            }
        }
        let average = total / f64::from((width / scale) * (height / scale));
        // The two decoders round differently (zune-jpeg's integer IDCT, our float sum): a level.
        assert!(worst <= 1.5, "1/{scale}: off by up to {worst:.2} levels");
        assert!(
            average <= 0.5,
            "1/{scale}: off by {average:.2} levels on average"
        );
    }
}

#[test]
fn unusual_jpegs_take_the_full_decode_path() {
    let progressive = Jpeg {
        progressive: true,
        ..Jpeg::default()
    }
    .encode(&photo(400, 300), 400, 300);
    let parsed = jpeg::parse(&progressive).expect("parse");
    assert!(
        jpeg::decode_scaled(&parsed, &progressive, 2)
            .expect("no error")
            .is_none()
    );
    let out = prepare_reference(&progressive, &limits(100)).expect("prepare");
    assert_eq!((out.width, out.height), (100, 75));
}

#[test]
fn flat_colours_survive_encoding() {
    for (width, height) in [(10, 20), (64, 48), (400, 300)] {
        let rgb: Vec<u8> = (0..width * height).flat_map(|_| [220, 20, 20]).collect();
        let data = encode::jpeg(encode::JpegInput::Rgb(&rgb), width, height).expect("encode");
        let decoded = image::load_from_memory(&data).expect("decode").into_rgb8();
        let pixel = decoded.get_pixel(width / 2, height / 2).0;
        assert!(
            pixel
                .iter()
                .zip([220, 20, 20])
                .all(|(a, b)| a.abs_diff(b) <= 4),
            "{width}x{height}: {pixel:?}"
        );
    }
}

/// Damaged files must come back as errors (or as some image), never as a panic.
#[test]
fn damaged_jpegs_never_panic() {
    let settings = [
        Jpeg::default(),
        Jpeg {
            restart: Some(2),
            ..Jpeg::default()
        },
        Jpeg {
            gray: true,
            ..Jpeg::default()
        },
    ];
    let mut seed = 0x2545_F491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as usize
    };
    let separate_scans = include_bytes!("../tests/data/s4_1_separate_scans_restart.jpg").to_vec();
    let inputs = settings
        .iter()
        .map(|setting| setting.encode(&photo(96, 64), 96, 64))
        .chain([separate_scans]);
    for data in inputs {
        for round in 0..60 {
            let mut damaged = data.clone();
            for _ in 0..1 + round % 4 {
                let at = next() % damaged.len();
                damaged[at] = next() as u8;
            }
            if round % 5 == 0 {
                damaged.truncate(next() % damaged.len());
            }
            // 96 -> 24 (200 -> 50) takes the 1/4 scaled decoder; the default limits take the
            // full decode.
            for longest in [24, 50, 1536] {
                let _ = prepare_reference(&damaged, &limits(longest));
            }
        }
    }
}

#[test]
fn other_orientations_on_the_scaled_path() {
    // Orientation 3 turns by 180 degrees (red ends up right), 8 by 90 counter-clockwise
    // (red ends up at the bottom).
    let data = |o| with_metadata(&Jpeg::default().encode(&halves(400, 200), 400, 200), o);
    let out = prepare_reference(&data(3), &limits(100)).expect("prepare");
    assert_eq!((out.width, out.height), (100, 50));
    let decoded = decode(&out);
    assert!(is_blue(decoded.get_pixel(10, 25)) && is_red(decoded.get_pixel(90, 25)));
    let out = prepare_reference(&data(8), &limits(100)).expect("prepare");
    assert_eq!((out.width, out.height), (50, 100));
    let decoded = decode(&out);
    assert!(is_blue(decoded.get_pixel(25, 10)) && is_red(decoded.get_pixel(25, 90)));
}

/// Files libjpeg-turbo's cjpeg wrote (tests/data/README.md) through both our decoders (the
/// scaled one at 1/2 and 1/4, zune-jpeg at full size) against jpeg-decoder, a port of libjpeg's
/// decoder, followed by the same resize and encode. Guards the sampling layouts, restart
/// intervals and separate component scans real encoders write.
#[test]
fn jpegs_from_libjpeg_match_a_reference_decoder() {
    macro_rules! fixture {
        ($name:literal) => {
            ($name, &include_bytes!(concat!("../tests/data/", $name))[..])
        };
    }
    let decoded = [
        fixture!("s1_1.jpg"),
        fixture!("s1_1_restart.jpg"),
        fixture!("s2_1.jpg"),
        fixture!("s2_1_restart.jpg"),
        fixture!("s2_2.jpg"),
        fixture!("s2_2_restart.jpg"),
        fixture!("s4_1.jpg"),
        fixture!("s4_1_restart.jpg"),
        fixture!("grey_restart.jpg"),
        fixture!("progressive_s1_1.jpg"),
        fixture!("s1_1_separate_scans.jpg"),
        fixture!("s2_2_separate_scans_restart.jpg"),
        fixture!("s4_1_separate_scans_restart.jpg"),
    ];
    let mut poor = Vec::new();
    for (name, data) in decoded {
        let mut reference = jpeg_decoder::Decoder::new(data);
        let pixels = reference.decode().expect("reference decode");
        let info = reference.info().expect("reference info");
        let (width, height) = (u32::from(info.width), u32::from(info.height));
        let full = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => DynamicImage::ImageLuma8(
                image::GrayImage::from_raw(width, height, pixels).expect("grey"),
            ),
            jpeg_decoder::PixelFormat::RGB24 => DynamicImage::ImageRgb8(
                image::RgbImage::from_raw(width, height, pixels).expect("rgb"),
            ),
            other => panic!("{name}: unexpected {other:?}"),
        };
        let shrinks = [100, 50];
        // Separate component scans: the scaled decoder only (checked below).
        let sizes = if name.contains("separate") {
            &shrinks[..]
        } else {
            &[100, 50, 1536][..]
        };
        // 100 and 50: 1/2 and 1/4 on load; 1536: no shrinking, zune-jpeg decodes. (At 25 pixels
        // Lanczos after a 1/4 box differs from Lanczos alone by more than any decoding error;
        // `scaled_samples_are_the_means_of_the_full_decode` checks 1/8 sample by sample.)
        for &longest in sizes {
            let target = resize::fit(width, height, longest);
            let ours = decode(&prepare_reference(data, &limits(longest)).expect("prepare"));
            let theirs = decode(
                &finish(full.clone(), Orientation::NoTransforms, target).expect("reference"),
            );
            assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
            let ((luma, chroma), (luma_ref, chroma_ref)) = (ycbcr(&ours), ycbcr(&theirs));
            let (luma_quality, chroma_quality) =
                (psnr(&luma, &luma_ref), psnr(&chroma, &chroma_ref));
            println!(
                "{name:<22} longest {longest:>4}: PSNR luma {luma_quality:.1} dB, chroma {chroma_quality:.1} dB"
            );
            // Apart, so an error in the chroma planes cannot hide behind a good luma.
            if luma_quality < 40.0 || chroma_quality < 40.0 {
                poor.push(format!(
                    "{name} at {longest}px: luma {luma_quality:.1} dB, chroma {chroma_quality:.1} dB"
                ));
            }
        }
    }
    let separate_scans = [
        fixture!("s1_1_separate_scans.jpg"),
        fixture!("s2_2_separate_scans_restart.jpg"),
        fixture!("s4_1_separate_scans_restart.jpg"),
    ];
    for (name, data) in separate_scans {
        // Valid files (jpeg-decoder reads them) that only the scaled decoder takes: zune-jpeg
        // decodes them to wrong colours, so without shrinking they are refused, not mis-decoded.
        assert!(jpeg_decoder::Decoder::new(data).decode().is_ok(), "{name}");
        let error = prepare_reference(data, &limits(1536)).expect_err(name);
        assert!(
            matches!(&error, ImageError::UnsupportedFeature(what) if what.contains("separate component scans")),
            "{name}: {error:?}"
        );
        assert_eq!(error.issue(), "unsupported_format");
    }
    assert!(poor.is_empty(), "{poor:#?}");
}

#[test]
fn unsupported_codings_name_what_is_unsupported() {
    let error = ImageError::UnsupportedFeature("12-bit JPEG");
    assert!(error.is_unsupported() && ImageError::Unsupported.is_unsupported());
    assert!(!ImageError::Corrupt("x".into()).is_unsupported());
    assert_eq!(error.issue(), "unsupported_format");
    assert!(error.to_string().contains("12-bit JPEG"), "{error}");
}

/// A WebP's EXIF orientation is read from the checked container, not by image-webp.
#[test]
fn webp_exif_orientation_is_applied() {
    // Lossless 400x200 halves; EXIF chunk (orientation 3, 180 degrees) added in a VP8X container.
    let plain = webp(
        &halves(400, 200)
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect::<Vec<_>>(),
        400,
        200,
    );
    let vp8l = &plain[12..];
    let exif = exif_tiff(3);
    let mut body = b"WEBPVP8X".to_vec();
    body.extend_from_slice(&10u32.to_le_bytes());
    body.extend_from_slice(&[0x08, 0, 0, 0]);
    body.extend_from_slice(&399u32.to_le_bytes()[..3]);
    body.extend_from_slice(&199u32.to_le_bytes()[..3]);
    body.extend_from_slice(vp8l);
    body.extend_from_slice(b"EXIF");
    body.extend_from_slice(&(exif.len() as u32).to_le_bytes());
    body.extend_from_slice(&exif);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    let out = prepare_reference(&file, &limits(100)).expect("prepare");
    assert_eq!((out.width, out.height), (100, 50));
    let decoded = decode(&out);
    assert!(is_blue(decoded.get_pixel(10, 25)) && is_red(decoded.get_pixel(90, 25)));
}

/// A client's output format: the model's image re-encoded at its own size, transparency kept
/// where the format has it, JPEG at the quality asked for.
#[test]
fn transcoding_keeps_the_pixels_and_follows_the_format_asked_for() {
    let (w, h) = (64, 48);
    let mut rgba = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let alpha = if x < 8 { 0 } else { 255 };
            rgba.extend_from_slice(&[(x * 4) as u8, (y * 5) as u8, 128, alpha]);
        }
    }
    let source = png(&rgba, w, h, image::ExtendedColorType::Rgba8);
    let limits = ImageLimits::default();

    // WebP without a quality is lossless: every pixel, alpha included, comes back.
    let webp = transcode(&source, ImageFormat::Webp, None, &limits).unwrap();
    assert_eq!(sniff(&webp.data), Some(ImageFormat::Webp));
    assert_eq!(
        (webp.format, webp.width, webp.height),
        (ImageFormat::Webp, w, h)
    );
    assert_eq!(decode(&webp).into_raw(), rgba);

    // JPEG: transparent pixels become white, the rest stay close; a lower quality is smaller.
    let good = transcode(&source, ImageFormat::Jpeg, Some(95), &limits).unwrap();
    let poor = transcode(&source, ImageFormat::Jpeg, Some(20), &limits).unwrap();
    assert_eq!(sniff(&good.data), Some(ImageFormat::Jpeg));
    assert!(
        poor.data.len() < good.data.len(),
        "{} >= {}",
        poor.data.len(),
        good.data.len()
    );
    let decoded = decode(&good);
    let corner = decoded.get_pixel(1, 1).0;
    assert!(
        corner[..3].iter().all(|&c| c > 240),
        "{corner:?} is not white"
    );
    let opaque = |img: &[u8]| -> Vec<u8> {
        img.chunks_exact(4)
            .enumerate()
            .filter(|(i, _)| (i % w as usize) >= 16)
            .flat_map(|(_, p)| p[..3].to_vec())
            .collect()
    };
    assert!(psnr(&opaque(&decoded.into_raw()), &opaque(&rgba)) > 35.0);

    // PNG from a JPEG with an EXIF rotation: upright, so width and height swap.
    let rotated = with_metadata(&Jpeg::default().encode(&photo(40, 20), 40, 20), 6);
    let upright = transcode(&rotated, ImageFormat::Png, None, &limits).unwrap();
    assert_eq!((upright.width, upright.height), (20, 40));
    assert_eq!(decode(&upright).dimensions(), (20, 40));

    // What is not an image within the limits is refused, never passed through.
    assert!(transcode(b"not an image", ImageFormat::Png, None, &limits).is_err());
    let huge = png_header_only(100_000, 100_000);
    assert!(transcode(&huge, ImageFormat::Jpeg, Some(90), &limits).is_err());

    // WebP with a quality is lossy: alpha kept, the rest close, smaller at a lower quality,
    // and JPEG without one is at the default quality.
    let fine = transcode(&source, ImageFormat::Webp, Some(95), &limits).unwrap();
    let coarse = transcode(&source, ImageFormat::Webp, Some(5), &limits).unwrap();
    assert_eq!(
        (fine.format, fine.width, fine.height),
        (ImageFormat::Webp, w, h)
    );
    assert!(
        fine.data.windows(4).any(|c| c == b"VP8 "),
        "not a lossy WebP"
    );
    assert!(coarse.data.len() < fine.data.len());
    let decoded = decode(&fine);
    assert_eq!(decoded.get_pixel(1, 1).0[3], 0, "alpha lost");
    assert!(psnr(&opaque(&decoded.into_raw()), &opaque(&rgba)) > 30.0);
    let default = transcode(&source, ImageFormat::Jpeg, None, &limits).unwrap();
    let ninety = transcode(&source, ImageFormat::Jpeg, Some(90), &limits).unwrap();
    assert_eq!(default.data, ninety.data);
}
