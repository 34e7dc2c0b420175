//! `cargo xtask bench`: reference-image preparation, ours against libvips (sharp), one thread
//! each, same input, same output size and quality. Not part of `ci`: timings are not tests.
//!
//! Exits non-zero only on errors; missing the target ratio is reported, not failed.

use std::collections::HashMap;
use std::path::Path;

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
    `iterations=${iterations} libvips=${sharp.versions.vips}`);
})().catch((e) => { console.error(e); process.exit(1); });
"#;

struct Measurement {
    tool: String,
    median_ms: f64,
    min_ms: f64,
    output_bytes: u64,
    size: String,
}

pub fn run(sh: &Shell, iterations: usize) -> crate::Result<()> {
    let bench_dir = crate::project_root().join("target").join("bench");
    sh.create_dir(&bench_dir)?;
    let input = bench_dir.join("input-12mp.jpg");
    let ours_out = bench_dir.join("ours.jpg");
    let iterations = iterations.max(1).to_string();

    println!("==> imagegen (release build, one thread)");
    let output = cmd!(
        sh,
        "cargo bench --locked -p imagegen --bench reference_image -- --iterations {iterations} --input {input} --output {ours_out}"
    )
    .read()?;
    println!("{output}");
    let ours = parse_line(&output, "imagegen")?;

    let sharp = match node_available(sh) {
        Err(why) => {
            println!(
                "\nsharp: skipped, {why}. Install Node.js (with npm) to compare against libvips."
            );
            None
        }
        Ok(()) => Some(run_sharp(sh, &bench_dir, &input, &iterations)?),
    };

    print_table(&ours, sharp.as_ref());
    Ok(())
}

fn node_available(sh: &Shell) -> std::result::Result<(), String> {
    for tool in ["node", "npm"] {
        cmd!(sh, "{tool} --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .map_err(|_| format!("`{tool}` is not on PATH"))?;
    }
    Ok(())
}

fn run_sharp(
    sh: &Shell,
    bench_dir: &Path,
    input: &Path,
    iterations: &str,
) -> crate::Result<Measurement> {
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
    let script = bench_dir.join("sharp-bench.js");
    sh.write_file(&script, NODE_SCRIPT)?;
    let sharp_out = bench_dir.join("sharp.jpg");
    println!("\n==> sharp {SHARP_VERSION} (concurrency 1, cache off)");
    // NODE_PATH lets the script, written outside the install prefix, find the package.
    let output = cmd!(sh, "node {script} {input} {iterations} {sharp_out}")
        .env("NODE_PATH", prefix.join("node_modules"))
        .read()?;
    println!("{output}");
    parse_line(&output, "sharp")
}

/// Find `BENCH tool=<tool> key=value …` in a run's output.
fn parse_line(output: &str, tool: &str) -> crate::Result<Measurement> {
    let line = output
        .lines()
        .find(|l| l.starts_with(&format!("BENCH tool={tool} ")))
        .ok_or_else(|| format!("the {tool} benchmark printed no BENCH line"))?;
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let field = |key: &str| {
        fields
            .get(key)
            .copied()
            .ok_or_else(|| format!("the {tool} BENCH line has no {key}"))
    };
    Ok(Measurement {
        tool: tool.to_owned(),
        median_ms: field("median_ms")?.parse()?,
        min_ms: field("min_ms")?.parse()?,
        output_bytes: field("output_bytes")?.parse()?,
        size: format!("{}x{}", field("width")?, field("height")?),
    })
}

fn print_table(ours: &Measurement, sharp: Option<&Measurement>) {
    println!(
        "\n{:<10} {:>10} {:>10} {:>13} {:>11}",
        "tool", "median ms", "min ms", "output bytes", "output px"
    );
    for r in std::iter::once(ours).chain(sharp) {
        println!(
            "{:<10} {:>10.1} {:>10.1} {:>13} {:>11}",
            r.tool, r.median_ms, r.min_ms, r.output_bytes, r.size
        );
    }
    let Some(sharp) = sharp else {
        println!("\nratio ours/sharp: n/a (sharp did not run)");
        return;
    };
    let ratio = ours.median_ms / sharp.median_ms;
    let min_ratio = ours.min_ms / sharp.min_ms;
    println!("\nratio ours/sharp: {ratio:.2} (median), {min_ratio:.2} (min)");
    if ratio <= TARGET_RATIO {
        println!("target met: ours takes <= {TARGET_RATIO} of sharp's time");
    } else {
        println!("target NOT met: ours should take <= {TARGET_RATIO} of sharp's time");
    }
}
