//! JPEG: the marker walk, and a baseline decoder that decodes straight at 1/2, 1/4 or 1/8 size
//! ("shrink-on-load", what libjpeg-turbo calls DCT scaling and libvips uses for thumbnails).
//!
//! Why our own decoder: decoding a 12-megapixel photo in full costs more than resizing and
//! encoding it together, and none of the pure-Rust decoders can skip that work: zune-jpeg
//! (behind `image`) always decodes at full size, and jpeg-decoder, which can scale, starts its
//! own worker threads. Entropy decoding is the same either way, but at 1/2 scale the inverse
//! DCT, chroma upsampling and colour conversion shrink to a quarter, and the resizer reads a
//! quarter of the pixels. Colour conversion disappears altogether: each YCbCr plane is resized
//! on its own and the encoder takes YCbCr.
//!
//! Scope, on purpose narrow: 8-bit baseline (SOF0/SOF1) Huffman JPEGs with one (grey) or three
//! (YCbCr) components, in one interleaved scan (what cameras and phones write) or in one scan
//! per component. Progressive, CMYK and RGB files return `None` and go to zune-jpeg; 12-bit,
//! arithmetic-coded, lossless and hierarchical files, and a second frame header, are refused by
//! [`parse`] before any decoder runs.
//!
//! The scaled inverse DCT is exact: each output sample is the mean of the s x s full-size
//! samples it replaces (a box filter), computed from the coefficients without producing them.

use image::DynamicImage;

use super::{ImageError, ImageLimits};

/// Zigzag position -> natural (row-major) index in the 8x8 block.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

fn corrupt(message: &str) -> ImageError {
    ImageError::Corrupt(format!("JPEG: {message}"))
}

/// The headers up to the first scan.
pub struct Parsed<'a> {
    /// The TIFF structure of the first APP1 "Exif" segment (for the orientation only).
    pub exif: Option<&'a [u8]>,
    frame: Option<Frame>,
    /// APP14 "Adobe" colour transform: 0 means the three components are RGB, not YCbCr.
    adobe_transform: Option<u8>,
    /// As they stand at the first scan; later scans may redefine them.
    tables: Tables,
    scan: Option<Scan>,
}

/// The tables and restart interval a scan is decoded with.
#[derive(Clone)]
struct Tables {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Box<Huffman>>; 4],
    ac: [Option<Box<Huffman>>; 4],
    restart_interval: u16,
}

struct Frame {
    baseline: bool,
    precision: u8,
    width: u16,
    height: u16,
    components: Vec<Component>,
}

struct Component {
    id: u8,
    h: u8,
    v: u8,
    quant: u8,
}

#[derive(Clone)]
struct Scan {
    /// (frame component index, DC table, AC table)
    components: Vec<(usize, u8, u8)>,
    progressive_or_partial: bool,
    /// Offset of the entropy-coded data.
    data: usize,
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*bytes.get(at..)?.first_chunk()?))
}

/// Read the marker segments up to and including the first SOS.
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, ImageError> {
    let truncated = || corrupt("truncated header");
    let mut parsed = Parsed {
        exif: None,
        frame: None,
        adobe_transform: None,
        tables: Tables {
            quant: [None; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
        },
        scan: None,
    };
    let mut pos = 2;
    loop {
        let Some((marker, segment)) = next_segment(bytes, &mut pos, truncated)? else {
            return Err(corrupt("no image data"));
        };
        if read_tables(marker, segment, &mut parsed.tables, truncated)? {
            continue;
        }
        match marker {
            0xC0..=0xC2 => {
                // The frame `inspect` bounded is the first; a second one (which the decoder
                // would otherwise keep) could declare any size.
                if parsed.frame.is_some() {
                    return Err(corrupt("more than one frame header"));
                }
                parsed.frame = Some(parse_frame(segment, marker != 0xC2)?);
            }
            0xE1 if parsed.exif.is_none() => {
                parsed.exif = segment.strip_prefix(b"Exif\0\0");
            }
            0xEE if segment.starts_with(b"Adobe") => {
                parsed.adobe_transform = segment.get(11).copied()
            }
            0xDA => {
                let frame = parsed
                    .frame
                    .as_ref()
                    .ok_or_else(|| corrupt("scan before frame"))?;
                parsed.scan = Some(parse_scan(segment, frame, pos)?);
                return Ok(parsed);
            }
            _ => {}
        }
    }
}

/// The next marker segment from `pos` on, as (marker, payload), with `pos` moved past it;
/// `None` at the end of the image. Like libjpeg, stray bytes between segments and 0xFF fill
/// bytes before a marker are skipped, and so are markers that stand alone. A marker of a coding
/// no decoder here handles is refused.
fn next_segment<'a>(
    bytes: &'a [u8],
    pos: &mut usize,
    truncated: fn() -> ImageError,
) -> Result<Option<(u8, &'a [u8])>, ImageError> {
    loop {
        while bytes.get(*pos).is_some_and(|b| *b != 0xFF) {
            *pos += 1;
        }
        while bytes.get(*pos + 1) == Some(&0xFF) {
            *pos += 1;
        }
        let marker = *bytes.get(*pos + 1).ok_or_else(truncated)?;
        *pos += 2;
        match marker {
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return Ok(None),
            _ => {}
        }
        let length = usize::from(be16(bytes, *pos).ok_or_else(truncated)?);
        let segment = bytes
            .get(*pos + 2..*pos + length.max(2))
            .ok_or_else(truncated)?;
        *pos += length.max(2);
        if let Some(coding) = unsupported_coding(marker) {
            return Err(ImageError::UnsupportedFeature(coding));
        }
        return Ok(Some((marker, segment)));
    }
}

/// Reads a Huffman table, quantization table or restart interval segment into `tables`
/// (they may come before the first scan and between scans); false for any other marker.
fn read_tables(
    marker: u8,
    segment: &[u8],
    tables: &mut Tables,
    truncated: fn() -> ImageError,
) -> Result<bool, ImageError> {
    match marker {
        0xC4 => parse_huffman(segment, tables)?,
        0xDB => parse_quant(segment, tables)?,
        0xDD => tables.restart_interval = be16(segment, 0).ok_or_else(truncated)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// What a marker's coding is when it is one no decoder here handles.
fn unsupported_coding(marker: u8) -> Option<&'static str> {
    Some(match marker {
        0xC3 => "lossless JPEG",
        0xC5..=0xC7 | 0xDE => "hierarchical JPEG",
        0xC9 | 0xCA | 0xCC => "arithmetic-coded JPEG",
        0xCB => "lossless arithmetic-coded JPEG",
        0xCD..=0xCF => "hierarchical arithmetic-coded JPEG",
        _ => return None,
    })
}

fn parse_frame(segment: &[u8], baseline: bool) -> Result<Frame, ImageError> {
    let bad = || corrupt("bad frame header");
    let (&precision, rest) = segment.split_first().ok_or_else(bad)?;
    match precision {
        8 => {}
        12 => return Err(ImageError::UnsupportedFeature("12-bit JPEG")),
        16 => return Err(ImageError::UnsupportedFeature("16-bit JPEG")),
        _ => return Err(corrupt("bad sample precision")),
    }
    let height = be16(rest, 0).ok_or_else(bad)?;
    let width = be16(rest, 2).ok_or_else(bad)?;
    let count = usize::from(*rest.get(4).ok_or_else(bad)?);
    let specs = rest.get(5..5 + 3 * count).ok_or_else(bad)?;
    let components = specs
        .chunks_exact(3)
        .map(|c| Component {
            id: c[0],
            h: c[1] >> 4,
            v: c[1] & 15,
            quant: c[2],
        })
        .collect();
    if count == 0 || width == 0 || height == 0 {
        return Err(bad());
    }
    Ok(Frame {
        baseline,
        precision,
        width,
        height,
        components,
    })
}

fn parse_quant(mut segment: &[u8], tables: &mut Tables) -> Result<(), ImageError> {
    let bad = || corrupt("bad quantization table");
    while let Some((&spec, rest)) = segment.split_first() {
        let (wide, id) = (spec >> 4 != 0, usize::from(spec & 15));
        let size = if wide { 128 } else { 64 };
        let values = rest.get(..size).ok_or_else(bad)?;
        let mut table = [0u16; 64];
        for (k, natural) in ZIGZAG.iter().enumerate() {
            table[usize::from(*natural)] = if wide {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            } else {
                u16::from(values[k])
            };
        }
        *tables.quant.get_mut(id).ok_or_else(bad)? = Some(table);
        segment = &rest[size..];
    }
    Ok(())
}

fn parse_huffman(mut segment: &[u8], tables: &mut Tables) -> Result<(), ImageError> {
    let bad = || corrupt("bad Huffman table");
    while let Some((&spec, rest)) = segment.split_first() {
        let counts: &[u8; 16] = rest.first_chunk().ok_or_else(bad)?;
        let total = counts.iter().map(|c| usize::from(*c)).sum::<usize>();
        let values = rest.get(16..16 + total).ok_or_else(bad)?;
        let table = Huffman::build(counts, values, spec >> 4 == 1)?;
        let slots = if spec >> 4 == 0 {
            &mut tables.dc
        } else {
            &mut tables.ac
        };
        *slots.get_mut(usize::from(spec & 15)).ok_or_else(bad)? = Some(Box::new(table));
        segment = &rest[16 + total..];
    }
    Ok(())
}

fn parse_scan(segment: &[u8], frame: &Frame, data: usize) -> Result<Scan, ImageError> {
    let bad = || corrupt("bad scan header");
    let count = usize::from(*segment.first().ok_or_else(bad)?);
    let specs = segment.get(1..1 + 2 * count).ok_or_else(bad)?;
    let components = specs
        .chunks_exact(2)
        .map(|s| {
            let index = frame
                .components
                .iter()
                .position(|c| c.id == s[0])
                .ok_or_else(|| corrupt("scan names an unknown component"))?;
            Ok((index, s[1] >> 4, s[1] & 15))
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    let tail = segment.get(1 + 2 * count..4 + 2 * count).ok_or_else(bad)?;
    Ok(Scan {
        components,
        progressive_or_partial: tail != [0, 63, 0],
        data,
    })
}

impl Parsed<'_> {
    /// Width and height of the one frame header (`parse` refuses a second).
    pub fn size(&self) -> Option<(u32, u32)> {
        let frame = self.frame.as_ref()?;
        Some((u32::from(frame.width), u32::from(frame.height)))
    }

    /// A baseline frame whose first scan does not hold every component: each component (or
    /// group) has a scan of its own. zune-jpeg decodes such files to wrong colours (4:2:0 and
    /// 4x1 with restart intervals, measured against libjpeg-turbo); only the scaled decoder may
    /// take them.
    pub fn separate_scans(&self) -> bool {
        match (&self.frame, &self.scan) {
            (Some(frame), Some(scan)) => {
                frame.baseline && scan.components.len() < frame.components.len()
            }
            _ => false,
        }
    }

    /// Peak bytes per pixel of a zune-jpeg decode of this frame (see `lib.rs`'s budget): the
    /// 3-byte RGB output, and for progressive frames every component's coefficients kept as
    /// 16-bit until the last scan (subsampled components count in full: an upper bound), plus a
    /// byte for the resizer's intermediate rows.
    pub fn full_decode_bytes_per_pixel(&self) -> u64 {
        let Some(frame) = &self.frame else {
            return u64::MAX;
        };
        let coefficients = if frame.baseline {
            0
        } else {
            2 * frame.components.len() as u64
        };
        3 + coefficients + 1
    }
}

/// The largest of 8, 4 and 2 by which the image can shrink while still covering `target`.
pub fn shrink_factor((width, height): (u32, u32), target: (u32, u32)) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|s| width / s >= target.0 && height / s >= target.1)
        .unwrap_or(1)
}

/// One decoded component at reduced size, padded to whole blocks.
pub struct Plane {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The part that is image, not block padding (fractional for subsampled chroma).
    pub valid: (f64, f64),
}

/// Y (grey) or Y, Cb, Cr.
pub struct Planes {
    pub planes: Vec<Plane>,
}

/// Where one scan component's blocks go.
struct Target {
    plane: usize,
    h: usize,
    v: usize,
    dc: usize,
    ac: usize,
    fold: Fold,
}

/// Decode at 1/`scale` (2, 4 or 8). `Ok(None)`: not a JPEG this decoder handles.
pub fn decode_scaled(
    parsed: &Parsed<'_>,
    bytes: &[u8],
    scale: u32,
) -> Result<Option<Planes>, ImageError> {
    let (Some(frame), Some(first_scan)) = (&parsed.frame, &parsed.scan) else {
        return Ok(None);
    };
    let count = frame.components.len();
    let rgb =
        parsed.adobe_transform == Some(0) || frame.components.iter().map(|c| c.id).eq(*b"RGB");
    if !frame.baseline
        || frame.precision != 8
        || !(count == 1 || (count == 3 && !rgb))
        || first_scan.progressive_or_partial
        || frame.width == 0
        || frame.height == 0
    {
        return Ok(None);
    }
    let bad_sampling = || corrupt("bad sampling factors");
    if frame
        .components
        .iter()
        .any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v))
    {
        return Err(bad_sampling());
    }
    let h_max = usize::from(frame.components.iter().map(|c| c.h).max().unwrap_or(1));
    let v_max = usize::from(frame.components.iter().map(|c| c.v).max().unwrap_or(1));
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let n = 8 / usize::try_from(scale).map_err(|_| corrupt("bad scale"))?;

    // One plane per frame component, in frame order (plane 0 is luma), sized for the
    // interleaved layout: a component scanned on its own covers no more than that.
    let mut planes = Vec::with_capacity(count);
    for component in &frame.components {
        let (h, v) = if count == 1 {
            (1, 1)
        } else {
            (usize::from(component.h), usize::from(component.v))
        };
        let (mcus_x, mcus_y) = if count == 1 {
            (width.div_ceil(8), height.div_ceil(8))
        } else {
            (width.div_ceil(8 * h_max), height.div_ceil(8 * v_max))
        };
        let plane_width = mcus_x * h * n;
        let plane_height = mcus_y * v * n;
        let (sx, sy) = if count == 1 {
            (1.0, 1.0)
        } else {
            (
                f64::from(component.h) / h_max as f64,
                f64::from(component.v) / v_max as f64,
            )
        };
        let shrink = f64::from(scale);
        planes.push(Plane {
            pixels: vec![0; plane_width * plane_height],
            width: u32::try_from(plane_width).map_err(|_| bad_sampling())?,
            height: u32::try_from(plane_height).map_err(|_| bad_sampling())?,
            valid: (width as f64 * sx / shrink, height as f64 * sy / shrink),
        });
    }

    // Scan after scan until every component is decoded: one scan for interleaved files, one per
    // component (or group of components) for the others.
    let mut tables = parsed.tables.clone();
    let mut decoded = vec![false; count];
    let mut scan = first_scan.clone();
    loop {
        if scan.progressive_or_partial {
            return Err(corrupt("a partial scan in a baseline frame"));
        }
        let layout = scan_layout(frame, &scan, &tables, n, &mut decoded)?;
        let data = bytes
            .get(scan.data..)
            .ok_or_else(|| corrupt("no scan data"))?;
        let consumed = match n {
            4 => decode_scan::<4>(&tables, &layout, data, &mut planes)?,
            2 => decode_scan::<2>(&tables, &layout, data, &mut planes)?,
            _ => decode_scan::<1>(&tables, &layout, data, &mut planes)?,
        };
        if let [(index, _, _)] = scan.components[..]
            && count > 1
            && let Some(plane) = planes.get_mut(index)
        {
            extend_edges(plane, (layout.mcus_x * n, layout.mcus_y * n));
        }
        if decoded.iter().all(|done| *done) {
            break;
        }
        scan = next_scan(bytes, scan.data + consumed, frame, &mut tables)?;
    }
    Ok(Some(Planes { planes }))
}

/// Repeat the last decoded column and row into the rest of `plane`. A component scanned on its
/// own has no padding blocks, and the resizer's kernel reaches past the image's edge: left at
/// zero, the padding darkened the last rows (luma 43 dB instead of 48 against libjpeg).
fn extend_edges(plane: &mut Plane, (covered_width, covered_height): (usize, usize)) {
    let width = plane.width as usize;
    if covered_width == 0 || covered_height == 0 || width == 0 {
        return;
    }
    for row in plane.pixels.chunks_exact_mut(width).take(covered_height) {
        if let Some(&last) = row.get(covered_width - 1)
            && let Some(rest) = row.get_mut(covered_width..)
        {
            rest.fill(last);
        }
    }
    let split = (covered_height * width).min(plane.pixels.len());
    let (top, bottom) = plane.pixels.split_at_mut(split);
    if let Some(last) = top.chunks_exact(width).last() {
        for row in bottom.chunks_exact_mut(width) {
            row.copy_from_slice(last);
        }
    }
}

/// The MCU grid and block targets of one scan. A scan of one component is not interleaved:
/// its blocks simply tile that component (`ceil(width * h / h_max / 8)` across); a scan of
/// several interleaves them in MCUs of `h_max` x `v_max` blocks' worth of image.
fn scan_layout(
    frame: &Frame,
    scan: &Scan,
    tables: &Tables,
    n: usize,
    decoded: &mut [bool],
) -> Result<Layout, ImageError> {
    let h_max = usize::from(frame.components.iter().map(|c| c.h).max().unwrap_or(1));
    let v_max = usize::from(frame.components.iter().map(|c| c.v).max().unwrap_or(1));
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let single = scan.components.len() == 1;
    let mut targets = Vec::with_capacity(scan.components.len());
    let mut grid = (width.div_ceil(8 * h_max), height.div_ceil(8 * v_max));
    for &(index, dc, ac) in &scan.components {
        let component = &frame.components[index];
        let done = decoded
            .get_mut(index)
            .ok_or_else(|| corrupt("scan names an unknown component"))?;
        if std::mem::replace(done, true) {
            return Err(corrupt("a component is scanned twice"));
        }
        let (h, v) = (usize::from(component.h), usize::from(component.v));
        let (h, v) = if single {
            grid = (
                (width * h).div_ceil(h_max).div_ceil(8),
                (height * v).div_ceil(v_max).div_ceil(8),
            );
            (1, 1)
        } else {
            (h, v)
        };
        let table = tables
            .quant
            .get(usize::from(component.quant))
            .copied()
            .flatten()
            .ok_or_else(|| corrupt("missing quantization table"))?;
        let (dc, ac) = (usize::from(dc), usize::from(ac));
        if tables.dc.get(dc).is_none_or(Option::is_none)
            || tables.ac.get(ac).is_none_or(Option::is_none)
        {
            return Err(corrupt("missing Huffman table"));
        }
        targets.push(Target {
            plane: index,
            h,
            v,
            dc,
            ac,
            fold: Fold::new(&table, n),
        });
    }
    Ok(Layout {
        mcus_x: grid.0,
        mcus_y: grid.1,
        restart_interval: usize::from(tables.restart_interval),
        targets,
    })
}

struct Layout {
    mcus_x: usize,
    mcus_y: usize,
    restart_interval: usize,
    targets: Vec<Target>,
}

/// Past the rest of a scan's entropy-coded data, through the table and restart-interval
/// segments between scans, to the next scan header.
fn next_scan(
    bytes: &[u8],
    mut pos: usize,
    frame: &Frame,
    tables: &mut Tables,
) -> Result<Scan, ImageError> {
    let truncated = || corrupt("a component has no scan (truncated file?)");
    loop {
        match (bytes.get(pos), bytes.get(pos + 1)) {
            (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => pos += 2,
            (Some(0xFF), Some(0xFF)) => pos += 1,
            (Some(0xFF), Some(_)) => break,
            (Some(_), _) => pos += 1,
            (None, _) => return Err(truncated()),
        }
    }
    loop {
        let (marker, segment) = next_segment(bytes, &mut pos, truncated)?.ok_or_else(truncated)?;
        if read_tables(marker, segment, tables, truncated)? {
            continue;
        }
        match marker {
            0xC0..=0xC2 => return Err(corrupt("more than one frame header")),
            0xDA => return parse_scan(segment, frame, pos),
            _ => {}
        }
    }
}

/// Decode one scan into `planes`; returns how many bytes of `data` it read.
fn decode_scan<const N: usize>(
    tables: &Tables,
    layout: &Layout,
    data: &[u8],
    planes: &mut [Plane],
) -> Result<usize, ImageError> {
    let tables = layout
        .targets
        .iter()
        .map(|t| match (&tables.dc[t.dc], &tables.ac[t.ac]) {
            (Some(dc), Some(ac)) => Ok((dc.as_ref(), ac.as_ref())),
            _ => Err(corrupt("missing Huffman table")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut reader = BitReader::new(data);
    let mut predictors = [0i32; 4];
    let mut left_in_interval = layout.restart_interval;
    for mcu_y in 0..layout.mcus_y {
        for mcu_x in 0..layout.mcus_x {
            if layout.restart_interval != 0 {
                if left_in_interval == 0 {
                    reader.restart()?;
                    predictors = [0; 4];
                    left_in_interval = layout.restart_interval;
                }
                left_in_interval -= 1;
            }
            for (i, (target, (dc, ac))) in layout.targets.iter().zip(&tables).enumerate() {
                let plane = &mut planes[target.plane];
                let stride = plane.width as usize;
                for by in 0..target.v {
                    for bx in 0..target.h {
                        let mut block = [0i64; 16];
                        let has_ac = decode_block(
                            &mut reader,
                            dc,
                            ac,
                            &target.fold,
                            &mut predictors[i],
                            &mut block,
                        )?;
                        let x = (mcu_x * target.h + bx) * N;
                        let y = (mcu_y * target.v + by) * N;
                        let out = &mut plane.pixels[y * stride + x..];
                        inverse_transform::<N>(&block, has_ac, out, stride);
                    }
                }
            }
            if reader.overran() {
                return Err(corrupt("entropy-coded data ends early (truncated file?)"));
            }
        }
    }
    Ok(reader.pos)
}

/// How each coefficient (by zigzag position) adds to the reduced N x N block: which slot
/// (`row * 4 + column`, row = vertical frequency) and with what weight, dequantization included.
/// One `i64` per coefficient, `weight << 4 | slot`: one load on the hot path, not two.
///
/// The mean of the 8/N full-size samples that reduced sample k covers is, for the 8-point IDCT
/// basis at frequency u, `D(u) * cos((2k + 1) u pi / 2N)` (a sum of cosines in arithmetic
/// progression), and `cos((2k + 1) u pi / 2N)` repeats, up to sign, a frequency below N, or
/// vanishes at u = N. So the 8x8 coefficients fold into N x N, each with one weight, and an
/// N-point transform finishes the block: the exact box-filtered result, for about an eighth of
/// the arithmetic of dequantizing all 64 and transforming 8 -> N.
struct Fold {
    /// The weight is fixed point, [`FRACTION_BITS`] after the point.
    entries: [i64; 64],
}

/// Coefficients are summed as integers: a float sum serialises every coefficient behind the
/// previous one's int-to-float conversion. With 16 fraction bits no valid or hostile input can
/// overflow: |weight| < 2^30, |AC| < 2^15, |DC predictor| <= 2^31, so 64 terms stay below 2^62.
const FRACTION_BITS: u32 = 16;

impl Fold {
    fn new(quant: &[u16; 64], n: usize) -> Self {
        // One dimension: (slot, weight) of frequency u, weight 0 where it vanishes.
        let along = |u: usize| -> (usize, f64) {
            let shrink = (8 / n) as f64;
            let theta = u as f64 * std::f64::consts::PI / 16.0;
            let (normal, mean) = if u == 0 {
                (0.5 / 2f64.sqrt(), 1.0)
            } else {
                (0.5, (shrink * theta).sin() / (shrink * theta.sin()))
            };
            let (mut frequency, mut sign) = (u, 1.0);
            while frequency >= 2 * n {
                frequency -= 2 * n;
                sign = -sign;
            }
            match frequency.cmp(&n) {
                std::cmp::Ordering::Less => (frequency, sign * normal * mean),
                std::cmp::Ordering::Equal => (0, 0.0),
                std::cmp::Ordering::Greater => (2 * n - frequency, -sign * normal * mean),
            }
        };
        let entries = ZIGZAG.map(|natural| {
            let natural = usize::from(natural);
            let ((row, wv), (column, wu)) = (along(natural / 8), along(natural % 8));
            let weight = wv * wu * f64::from(quant[natural]) * f64::from(1 << FRACTION_BITS);
            // |weight| < 2^30 (quant < 2^16, |wv * wu| <= 1/4), so the shift cannot overflow.
            (weight.round() as i64) << 4 | (row * 4 + column) as i64
        });
        Fold { entries }
    }

    /// `value` times the weight of zigzag position `k`, and the slot it goes to.
    #[inline(always)]
    fn weigh(&self, k: usize, value: i32) -> Option<(usize, i64)> {
        let entry = *self.entries.get(k)?;
        Some(((entry & 15) as usize, i64::from(value) * (entry >> 4)))
    }
}

/// The N-point inverse transform of folded coefficients: `x[k] = sum_u y[u] cos((2k + 1) u pi / 2N)`.
#[inline(always)]
fn inverse_1d<const N: usize>(y: [f32; 4]) -> [f32; 4] {
    use std::f32::consts::FRAC_1_SQRT_2;
    match N {
        4 => {
            // cos(pi/8), cos(3pi/8); the even/odd split halves the multiplications.
            const A: f32 = 0.923_879_5;
            const B: f32 = 0.382_683_43;
            let (even0, even1) = (y[0] + FRAC_1_SQRT_2 * y[2], y[0] - FRAC_1_SQRT_2 * y[2]);
            let (odd0, odd1) = (A * y[1] + B * y[3], B * y[1] - A * y[3]);
            [even0 + odd0, even1 + odd1, even1 - odd1, even0 - odd0]
        }
        2 => [
            y[0] + FRAC_1_SQRT_2 * y[1],
            y[0] - FRAC_1_SQRT_2 * y[1],
            0.0,
            0.0,
        ],
        _ => [y[0], 0.0, 0.0, 0.0],
    }
}

/// Transform one folded block (slot 0 carries the +128 level shift and rounding) and write it
/// as an N x N tile of `out` (row pitch `stride`).
#[inline(always)]
fn inverse_transform<const N: usize>(
    block: &[i64; 16],
    has_ac: bool,
    out: &mut [u8],
    stride: usize,
) {
    if !has_ac {
        // DC only (smooth areas, and most chroma): a flat tile.
        let value = (block[0] >> FRACTION_BITS).clamp(0, 255) as u8;
        for j in 0..N {
            out[j * stride..j * stride + N].fill(value);
        }
        return;
    }
    let unit = 1.0 / (1u32 << FRACTION_BITS) as f32;
    let folded = block.map(|c| c as f32 * unit);
    // Vertical first, so the horizontal pass yields whole output rows.
    let columns: [[f32; 4]; 4] = std::array::from_fn(|s| {
        inverse_1d::<N>([folded[s], folded[4 + s], folded[8 + s], folded[12 + s]])
    });
    for (j, row) in out.chunks_mut(stride).take(N).enumerate() {
        let pixels = inverse_1d::<N>([columns[0][j], columns[1][j], columns[2][j], columns[3][j]]);
        // `as u8` saturates, which is the clamp to 0..=255.
        for (pixel, value) in row[..N].iter_mut().zip(pixels) {
            *pixel = value as u8;
        }
    }
}

/// Entropy-decode one block straight into its folded form `block` (see [`Fold`]), which must be
/// zero. Returns whether any AC coefficient was coded (false: the block is flat).
#[inline(always)]
fn decode_block(
    shared: &mut BitReader<'_>,
    dc: &Huffman,
    ac: &Huffman,
    fold: &Fold,
    predictor: &mut i32,
    block: &mut [i64; 16],
) -> Result<bool, ImageError> {
    // Work on a copy so the bit buffer lives in registers for the whole block, not in memory
    // behind a pointer (that store/load chain on every symbol cost a third of the time).
    let mut reader = *shared;
    let bad_run = || corrupt("coefficient run past the end of a block");
    reader.refill();
    let size = dc.decode(&mut reader)?;
    if size > 15 {
        return Err(corrupt("bad DC difference size"));
    }
    let diff = reader.receive_extend(u32::from(size));
    *predictor = predictor.wrapping_add(diff);
    // The level shift and the rounding of the final `as u8`, added once here.
    let (_, dc_term) = fold.weigh(0, *predictor).ok_or_else(bad_run)?;
    block[0] = (257 << (FRACTION_BITS - 1)) + dc_term;
    let mut add = |k: usize, value: i32| -> Result<(), ImageError> {
        let (slot, term) = fold.weigh(k, value).ok_or_else(bad_run)?;
        block[slot & 15] += term;
        Ok(())
    };
    let mut k = 1usize;
    while k < 64 {
        reader.refill();
        // Common case: code and value bits fit the lookahead; one table hit does both.
        let fast = ac.fast_ac[reader.peek_lookahead()];
        if fast != 0 {
            reader.consume((fast & 15) as u32);
            if fast & END_OF_BLOCK != 0 {
                break;
            }
            k += ((fast >> 4) & 15) as usize;
            add(k, fast >> 16)?;
            k += 1;
            continue;
        }
        let symbol = ac.decode(&mut reader)?;
        let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            if run == 15 {
                k += 16;
                continue;
            }
            break; // end of block
        }
        k += run;
        add(k, reader.receive_extend(size))?;
        k += 1;
    }
    *shared = reader;
    Ok(k > 1)
}

const LOOKAHEAD: u32 = 11;

/// Flag in a `fast_ac` entry: the symbol is EOB (run 0, size 0), the block is done.
const END_OF_BLOCK: i32 = 1 << 8;

/// A canonical Huffman table with a lookahead table and, for AC tables, a second lookup that also
/// decodes the coefficient value when code and value bits fit the lookahead together (as stb_image and
/// libjpeg-turbo do): most coefficients then cost one table access.
#[derive(Clone)]
struct Huffman {
    /// (code length << 8) | symbol; 0 = longer code or invalid.
    lookup: [u16; 1 << LOOKAHEAD],
    /// (value << 16) | [`END_OF_BLOCK`] | (run << 4) | bits consumed; 0 = take the slow path.
    fast_ac: [i32; 1 << LOOKAHEAD],
    /// Largest code of each length (index = length), -1 when none.
    max_code: [i32; 17],
    /// Symbol index = code + offset, per length.
    offset: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn build(counts: &[u8; 16], values: &[u8], is_ac: bool) -> Result<Self, ImageError> {
        let mut table = Huffman {
            lookup: [0; 1 << LOOKAHEAD],
            fast_ac: [0; 1 << LOOKAHEAD],
            max_code: [-1; 17],
            offset: [0; 17],
            values: values.to_vec(),
        };
        let mut code = 0u32;
        let mut index = 0usize;
        for length in 1..=16u32 {
            let count = usize::from(counts[length as usize - 1]);
            table.offset[length as usize] = index as i32 - code as i32;
            for _ in 0..count {
                if code >= 1 << length {
                    return Err(corrupt("over-subscribed Huffman table"));
                }
                if length <= LOOKAHEAD {
                    let shift = LOOKAHEAD - length;
                    let start = (code << shift) as usize;
                    let entry = (length << 8) as u16 | u16::from(values[index]);
                    table.lookup[start..start + (1 << shift)].fill(entry);
                }
                code += 1;
                index += 1;
            }
            if count > 0 {
                table.max_code[length as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        if is_ac {
            for (bits, entry) in table.lookup.iter().enumerate() {
                let (length, symbol) = (u32::from(entry >> 8), entry & 0xFF);
                let (run, size) = (i32::from(symbol >> 4), u32::from(symbol & 15));
                if *entry != 0 && symbol == 0 {
                    table.fast_ac[bits] = END_OF_BLOCK | length as i32;
                }
                if *entry == 0 || size == 0 || length + size > LOOKAHEAD {
                    continue;
                }
                let raw = (bits as u32 >> (LOOKAHEAD - length - size)) & ((1 << size) - 1);
                let value = extend(raw as i32, size);
                table.fast_ac[bits] = (value << 16) | (run << 4) | (length + size) as i32;
            }
        }
        Ok(table)
    }

    /// Decode one symbol; the reader must hold at least 16 bits.
    #[inline(always)]
    fn decode(&self, reader: &mut BitReader<'_>) -> Result<u8, ImageError> {
        let entry = self.lookup[reader.peek_lookahead()];
        if entry != 0 {
            reader.consume(u32::from(entry >> 8));
            return Ok(entry as u8);
        }
        let (symbol, length) = self.decode_long(reader.buffer)?;
        reader.consume(length);
        Ok(symbol)
    }

    /// Codes longer than the lookahead: (symbol, code length). Takes the buffer by value so
    /// the reader need not leave registers.
    #[cold]
    #[inline(never)]
    fn decode_long(&self, buffer: u64) -> Result<(u8, u32), ImageError> {
        for length in LOOKAHEAD + 1..=16 {
            let code = (buffer >> (64 - length)) as i32;
            if code <= self.max_code[length as usize] {
                let index = code + self.offset[length as usize];
                return usize::try_from(index)
                    .ok()
                    .and_then(|i| self.values.get(i).copied())
                    .map(|symbol| (symbol, length))
                    .ok_or_else(|| corrupt("bad Huffman code"));
            }
        }
        Err(corrupt("bad Huffman code"))
    }
}

/// JPEG's sign convention for `size`-bit magnitudes.
#[inline(always)]
fn extend(raw: i32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if raw < 1 << (size - 1) {
        raw - (1 << size) + 1
    } else {
        raw
    }
}

/// MSB-first bit reader over entropy-coded data: removes 0xFF00 stuffing, stops at markers.
/// After the data ends (or a marker) it feeds zero bits and counts them, so a truncated file is
/// detected by [`BitReader::overran`] instead of being decoded into grey.
#[derive(Clone, Copy)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Left-aligned bit buffer; `bits` of it are valid.
    buffer: u64,
    bits: u32,
    /// How many of the buffered bits are padding after the end of the data.
    padding: u32,
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            buffer: 0,
            bits: 0,
            padding: 0,
            at_marker: false,
        }
    }

    /// Make sure at least 32 bits are buffered: a symbol and its value need at most 31.
    /// Refilling seldom and 4 bytes at a time keeps the per-coefficient cost low.
    #[inline(always)]
    fn refill(&mut self) {
        if self.bits >= 32 {
            return;
        }
        // Fast path: the next 4 bytes hold no 0xFF, so no stuffing and no marker among them.
        if !self.at_marker
            && let Some(chunk) = self.data.get(self.pos..).and_then(|d| d.first_chunk::<4>())
        {
            let word = u32::from_be_bytes(*chunk);
            let inverted = !word;
            let has_ff = inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080;
            if has_ff == 0 {
                self.buffer |= u64::from(word) << (32 - self.bits);
                self.bits += 32;
                self.pos += 4;
                return;
            }
        }
        *self = self.refill_slow();
    }

    /// By value, so callers can keep their copy of the reader in registers.
    #[inline(never)]
    fn refill_slow(mut self) -> Self {
        while self.bits <= 56 {
            let byte = if self.at_marker {
                self.padding += 8;
                0
            } else {
                match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
                    (Some(0xFF), Some(0x00)) => {
                        self.pos += 2;
                        0xFF
                    }
                    (Some(0xFF), _) | (None, _) => {
                        self.at_marker = true;
                        self.padding += 8;
                        0
                    }
                    (Some(byte), _) => {
                        self.pos += 1;
                        *byte
                    }
                }
            };
            self.buffer |= u64::from(byte) << (56 - self.bits);
            self.bits += 8;
        }
        self
    }

    #[inline(always)]
    fn peek_lookahead(&self) -> usize {
        (self.buffer >> (64 - LOOKAHEAD)) as usize
    }

    #[inline(always)]
    fn peek(&self, count: u32) -> u32 {
        (self.buffer >> (64 - count)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, count: u32) {
        self.buffer <<= count;
        self.bits -= count;
    }

    /// Read a `size`-bit magnitude (0..=16) and sign-extend it.
    #[inline(always)]
    fn receive_extend(&mut self, size: u32) -> i32 {
        if size == 0 {
            return 0;
        }
        let raw = self.peek(size) as i32;
        self.consume(size);
        extend(raw, size)
    }

    /// True once decoding has eaten into the padding: the data ended too early.
    fn overran(&self) -> bool {
        self.padding > self.bits
    }

    /// At a restart interval's end: drop the byte-alignment bits and step over the RSTn marker.
    fn restart(&mut self) -> Result<(), ImageError> {
        self.buffer = 0;
        self.bits = 0;
        self.padding = 0;
        self.at_marker = false;
        loop {
            match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
                (Some(0xFF), Some(0xD0..=0xD7)) => {
                    self.pos += 2;
                    return Ok(());
                }
                (Some(0xFF), Some(0xFF)) => self.pos += 1,
                (Some(0xFF), Some(_)) => return Err(corrupt("restart marker missing")),
                // Like libjpeg, resynchronise on the next marker past stray bytes.
                (Some(_), _) => self.pos += 1,
                (None, _) => {
                    return Err(corrupt("entropy-coded data ends early (truncated file?)"));
                }
            }
        }
    }
}

/// Full-size decode with zune-jpeg, for what the scaled decoder does not take. Strict mode, so
/// a truncated file is an error rather than a picture with a grey bottom. `size` is the frame the
/// caller bounded: zune-jpeg walks the markers itself, so what it found is compared with it
/// before it allocates anything.
pub fn decode_full(
    bytes: &[u8],
    limits: &ImageLimits,
    size: (u32, u32),
) -> Result<DynamicImage, ImageError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(limits.max_width as usize)
        .set_max_height(limits.max_height as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let error = |e| match e {
        zune_jpeg::errors::DecodeErrors::Unsupported(_) => {
            ImageError::UnsupportedFeature("JPEG coding")
        }
        other => ImageError::Corrupt(format!("JPEG: {other}")),
    };
    decoder.decode_headers().map_err(error)?;
    let found = decoder
        .dimensions()
        .map(|(w, h)| (u32::try_from(w).ok(), u32::try_from(h).ok()));
    if found != Some((Some(size.0), Some(size.1))) {
        return Err(corrupt("the decoder found a different frame"));
    }
    let pixels = decoder.decode().map_err(error)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| corrupt("no dimensions after decoding"))?;
    let (width, height) = (
        u32::try_from(width).map_err(|_| corrupt("bad width"))?,
        u32::try_from(height).map_err(|_| corrupt("bad height"))?,
    );
    let wrong = || corrupt("decoded buffer does not match the dimensions");
    let image = match pixels.len() / (width as usize * height as usize).max(1) {
        1 => DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(width, height, pixels).ok_or_else(wrong)?,
        ),
        3 => DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(width, height, pixels).ok_or_else(wrong)?,
        ),
        4 => DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(width, height, pixels).ok_or_else(wrong)?,
        ),
        _ => return Err(wrong()),
    };
    Ok(image)
}
