//! `cargo xtask bench`: reference-image preparation, ours against libvips (sharp), one thread
//! each, same input, same output size and quality. Not part of `ci`: timings are not tests.
//!
//! Exits non-zero only on errors; missing the target ratio is reported, not failed.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use xshell::{Shell, cmd};

/// Pinned: sharp bundles its own libvips build, so the version fixes what we compare against.
const SHARP_VERSION: &str = "0.35.5";
/// Ours must take at most this fraction of sharp's median time.
const TARGET_RATIO: f64 = 0.8;

const NODE_SCRIPT: &str = r#"// Written by `cargo xtask bench`: sharp's side of the reference-image benchmark.
const sharp = require('sharp');
const fs = require('fs');
sharp.concurrency(1); // one libvips worker thread, like our single-threaded prepare_reference
sharp.cache(false);
const [input, iterations, output] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const bytes = fs.readFileSync(input);
const run = () => sharp(bytes)
  .rotate() // apply EXIF orientation
  .resize(1536, 1536, { fit: 'inside', withoutEnlargement: true })
  .jpeg({ quality: 85 })
  .toBuffer({ resolveWithObject: true });
(async () => {
  for (let i = 0; i < 2; i++) await run();
  const times = [];
  let last;
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    last = await run();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  fs.writeFileSync(output, last.data);
  console.log(`BENCH tool=sharp median_ms=${times[times.length >> 1].toFixed(3)} min_ms=${times[0].toFixed(3)} ` +
    `output_bytes=${last.data.length} width=${last.info.width} height=${last.info.height} ` +
    `iterations=${iterations} libvips=${sharp.versions.vips} times_ms=${times.map((t) => t.toFixed(3)).join(',')}`);
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// One tool's runs, pooled over the rounds.
struct Measurement {
    tool: String,
    times_ms: Vec<f64>,
    output_bytes: u64,
    size: String,
}

impl Measurement {
    fn median_ms(&self) -> f64 {
        let mut times = self.times_ms.clone();
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn min_ms(&self) -> f64 {
        self.times_ms.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

pub fn run(sh: &Shell, iterations: usize, rounds: usize) -> crate::Result<()> {
    let bench_dir = crate::project_root().join("target").join("bench");
    sh.create_dir(&bench_dir)?;
    let input = bench_dir.join("input-12mp.jpg");
    let ours_out = bench_dir.join("ours.jpg");
    let iterations = iterations.max(1).to_string();

    println!("==> building the benchmark (release profile)");
    let bench = build_bench(sh)?;
    let sharp_missing = node_available(sh).err();
    if let Some(why) = &sharp_missing {
        println!("\nsharp: skipped, {why}. Install Node.js (with npm) to compare against libvips.");
    } else {
        install_sharp(sh, &bench_dir)?;
    }

    let (mut ours, mut sharp): (Option<Measurement>, Option<Measurement>) = (None, None);
    for round in 1..=rounds.max(1) {
        println!("\n==> round {round}: imagegen (one thread)");
        let output = cmd!(
            sh,
            "{bench} --iterations {iterations} --input {input} --output {ours_out}"
        )
        .read()?;
        println!("{output}");
        pool(&mut ours, parse_line(&output, "imagegen")?);
        if sharp_missing.is_none() {
            println!("\n==> round {round}: sharp {SHARP_VERSION} (concurrency 1, cache off)");
            pool(&mut sharp, run_sharp(sh, &bench_dir, &input, &iterations)?);
        }
    }
    let ours = ours.context("no round ran")?;
    print_table(&ours, sharp.as_ref());
    Ok(())
}

fn pool(total: &mut Option<Measurement>, round: Measurement) {
    match total {
        Some(total) => total.times_ms.extend(round.times_ms),
        None => *total = Some(round),
    }
}

/// Build the benchmark once and return its executable, so the rounds run it directly rather
/// than through cargo each time.
fn build_bench(sh: &Shell) -> crate::Result<std::path::PathBuf> {
    let messages = cmd!(
        sh,
        "cargo bench --locked -p imagegen --bench reference_image --no-run --message-format=json-render-diagnostics"
    )
    .read()?;
    crate::executable(&messages, "reference_image")
        .context("cargo built no reference_image benchmark executable")
}

fn node_available(sh: &Shell) -> crate::Result<()> {
    for tool in ["node", "npm"] {
        cmd!(sh, "{tool} --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .ok()
            .with_context(|| format!("`{tool}` is not on PATH"))?;
    }
    Ok(())
}

/// sharp, pinned, under target/bench/node (once; later runs find it there).
fn install_sharp(sh: &Shell, bench_dir: &Path) -> crate::Result<()> {
    let prefix = bench_dir.join("node");
    let installed = sh
        .read_file(prefix.join("node_modules/sharp/package.json"))
        .ok()
        .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    if installed.as_deref() != Some(SHARP_VERSION) {
        println!(
            "\n==> installing sharp@{SHARP_VERSION} (prebuilt libvips) into {}",
            prefix.display()
        );
        cmd!(sh, "npm install --no-save --no-audit --no-fund --progress=true --prefix {prefix} sharp@{SHARP_VERSION}")
            .run()?;
    }
    sh.write_file(bench_dir.join("sharp-bench.js"), NODE_SCRIPT)?;
    Ok(())
}

fn run_sharp(
    sh: &Shell,
    bench_dir: &Path,
    input: &Path,
    iterations: &str,
) -> crate::Result<Measurement> {
    let script = bench_dir.join("sharp-bench.js");
    let sharp_out = bench_dir.join("sharp.jpg");
    // NODE_PATH lets the script, written outside the install prefix, find the package.
    let output = cmd!(sh, "node {script} {input} {iterations} {sharp_out}")
        .env("NODE_PATH", bench_dir.join("node").join("node_modules"))
        .read()?;
    println!("{output}");
    parse_line(&output, "sharp")
}

/// Find `BENCH tool=<tool> key=value …` in a run's output.
fn parse_line(output: &str, tool: &str) -> crate::Result<Measurement> {
    let line = output
        .lines()
        .find(|l| l.starts_with(&format!("BENCH tool={tool} ")))
        .with_context(|| format!("the {tool} benchmark printed no BENCH line"))?;
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .with_context(|| format!("the {tool} BENCH line has no {key}"))
    };
    let times_ms = field("times_ms")?
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<f64>, _>>()?;
    Ok(Measurement {
        tool: tool.to_owned(),
        times_ms,
        output_bytes: field("output_bytes")?.parse()?,
        size: format!("{}x{}", field("width")?, field("height")?),
    })
}

fn print_table(ours: &Measurement, sharp: Option<&Measurement>) {
    println!(
        "\n{:<10} {:>6} {:>10} {:>10} {:>13} {:>11}",
        "tool", "runs", "median ms", "min ms", "output bytes", "output px"
    );
    for r in std::iter::once(ours).chain(sharp) {
        println!(
            "{:<10} {:>6} {:>10.1} {:>10.1} {:>13} {:>11}",
            r.tool,
            r.times_ms.len(),
            r.median_ms(),
            r.min_ms(),
            r.output_bytes,
            r.size
        );
    }
    let Some(sharp) = sharp else {
        println!("\nratio ours/sharp: n/a (sharp did not run)");
        return;
    };
    let ratio = ours.median_ms() / sharp.median_ms();
    let min_ratio = ours.min_ms() / sharp.min_ms();
    println!("\nratio ours/sharp: {ratio:.2} (median), {min_ratio:.2} (min)");
    if ratio <= TARGET_RATIO {
        println!("target met: ours takes <= {TARGET_RATIO} of sharp's time");
    } else {
        println!("target NOT met: ours should take <= {TARGET_RATIO} of sharp's time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pool_into_one_median_and_minimum() {
        let line = |times: &str| {
            format!(
                "prepare_reference …\nBENCH tool=sharp median_ms=9 min_ms=9 output_bytes=338553 \
                 width=1536 height=1152 iterations=3 libvips=8.18.7 times_ms={times}\n"
            )
        };
        let mut total = None;
        pool(
            &mut total,
            parse_line(&line("150.0,120.5,131.0"), "sharp").unwrap(),
        );
        pool(
            &mut total,
            parse_line(&line("99.0,140.0,125.0"), "sharp").unwrap(),
        );
        let total = total.unwrap();
        assert_eq!(total.times_ms.len(), 6);
        // The per-round medians were 131 and 125; over all six runs it is 131 (upper middle).
        assert_eq!(total.median_ms(), 131.0);
        assert_eq!(total.min_ms(), 99.0);
        assert_eq!(
            (total.output_bytes, total.size.as_str()),
            (338553, "1536x1152")
        );
    }

    #[test]
    fn a_line_without_times_is_an_error() {
        let output = "BENCH tool=imagegen median_ms=1 min_ms=1 output_bytes=1 width=1 height=1";
        let error = parse_line(output, "imagegen").err().unwrap();
        assert!(error.to_string().contains("times_ms"), "{error}");
        assert!(parse_line(output, "sharp").is_err());
    }
}
