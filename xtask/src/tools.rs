//! Command-line tools from PyPI, pinned, each in its own Python venv in the user's cache:
//! `${XDG_CACHE_HOME:-$HOME/.cache}/imagegen/tools/<name>-<version>/`.
//!
//! A tool is installed once per version (about a minute, with pip's progress shown) and then
//! reused. A marker file written after a successful install tells a finished venv from one an
//! interrupted install left behind; such a venv is removed and installed again. A lock file
//! beside the venv keeps two xtask runs from installing the same tool at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use xshell::{Shell, cmd};

/// A console script from a pinned PyPI package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyTool {
    /// The PyPI distribution, e.g. `checkov` or `moto`.
    pub package: &'static str,
    /// Extras installed with it, e.g. `&["server"]` for `moto[server]`.
    pub extras: &'static [&'static str],
    /// The exact version.
    pub version: &'static str,
    /// The console script the package installs into the venv's `bin/`, e.g. `moto_server`.
    pub executable: &'static str,
}

/// Static analysis of the Terraform (`cargo xtask lint`).
pub const CHECKOV: PyTool = PyTool {
    package: "checkov",
    extras: &[],
    version: "3.3.30",
    executable: "checkov",
};

/// Static analysis of the GitHub Actions workflows (`cargo xtask lint`).
pub const ZIZMOR: PyTool = PyTool {
    package: "zizmor",
    extras: &[],
    version: "1.32.0",
    executable: "zizmor",
};

impl PyTool {
    /// What pip installs, e.g. `moto[server]==5.2.0`.
    pub fn requirement(&self) -> String {
        if self.extras.is_empty() {
            format!("{}=={}", self.package, self.version)
        } else {
            format!(
                "{}[{}]=={}",
                self.package,
                self.extras.join(","),
                self.version
            )
        }
    }

    /// The venv's folder name, e.g. `checkov-3.3.30` or `moto-server-5.2.0`.
    pub fn dir_name(&self) -> String {
        let mut name = self.package.to_owned();
        for extra in self.extras {
            name.push('-');
            name.push_str(extra);
        }
        format!("{name}-{}", self.version)
    }
}

/// `imagegen/tools` in the user's cache folder (the XDG base directory rules).
pub fn tools_dir() -> crate::Result<PathBuf> {
    cache_home(
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
    .map(|cache| cache.join("imagegen").join("tools"))
    .context("neither XDG_CACHE_HOME nor HOME is set: cannot choose a tools folder")
}

fn cache_home(xdg_cache_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    // The XDG spec ignores a relative XDG_CACHE_HOME.
    xdg_cache_home
        .filter(|dir| dir.is_absolute())
        .or_else(|| home.map(|home| home.join(".cache")))
}

/// Installs `tool` if it is not installed yet and returns the path of its executable.
pub fn install(sh: &Shell, tool: &PyTool) -> crate::Result<PathBuf> {
    let tools = tools_dir()?;
    std::fs::create_dir_all(&tools)
        .with_context(|| format!("cannot create {}", tools.display()))?;
    let venv = tools.join(tool.dir_name());
    let executable = venv.join("bin").join(tool.executable);

    let lock_path = tools.join(format!("{}.lock", tool.dir_name()));
    let lock = File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        println!(
            "waiting for another xtask that is installing {}…",
            tool.requirement()
        );
        lock.lock()?;
    }

    match state(&venv, tool) {
        State::Installed => return Ok(executable),
        State::Incomplete => {
            println!(
                "removing an incomplete install of {} at {}",
                tool.requirement(),
                venv.display()
            );
            std::fs::remove_dir_all(&venv)
                .with_context(|| format!("cannot remove {}", venv.display()))?;
        }
        State::Absent => {}
    }

    let python = find_python(sh)?;
    println!(
        "installing {} into {} with {python} (once per version; takes about a minute)",
        tool.requirement(),
        venv.display()
    );
    let started = Instant::now();
    let installed = create_venv(sh, &python, &venv, tool);
    if installed.is_err() {
        // Leave no half-installed venv behind (the next run would remove it anyway).
        let _ = std::fs::remove_dir_all(&venv);
    }
    installed.with_context(|| format!("installing {} failed", tool.requirement()))?;
    ensure!(
        executable.is_file(),
        "{} installed no `{}` in {}",
        tool.requirement(),
        tool.executable,
        venv.join("bin").display()
    );
    std::fs::write(venv.join(MARKER), format!("{}\n", tool.requirement()))?;
    println!(
        "installed {} in {:.0} s",
        tool.requirement(),
        started.elapsed().as_secs_f64()
    );
    Ok(executable)
}

/// Written into the venv once pip has finished; holds the requirement it installed.
const MARKER: &str = ".imagegen-installed";

#[derive(Debug, PartialEq, Eq)]
enum State {
    Absent,
    /// Interrupted, or installed for another requirement: remove and redo.
    Incomplete,
    Installed,
}

fn state(venv: &Path, tool: &PyTool) -> State {
    if !venv.exists() {
        return State::Absent;
    }
    let marker = std::fs::read_to_string(venv.join(MARKER)).unwrap_or_default();
    if marker.trim() == tool.requirement() && venv.join("bin").join(tool.executable).is_file() {
        State::Installed
    } else {
        State::Incomplete
    }
}

fn create_venv(sh: &Shell, python: &str, venv: &Path, tool: &PyTool) -> crate::Result<()> {
    cmd!(sh, "{python} -m venv {venv}").run()?;
    let pip = venv.join("bin").join("pip");
    let requirement = tool.requirement();
    cmd!(
        sh,
        "{pip} install --disable-pip-version-check {requirement}"
    )
    .env("PIP_NO_INPUT", "1")
    .run()?;
    Ok(())
}

/// Python 3.11 when it is on PATH (the version the tools are pinned and tested with), else
/// any `python3`.
fn find_python(sh: &Shell) -> crate::Result<String> {
    for candidate in ["python3.11", "python3"] {
        let works = cmd!(sh, "{candidate} -c 'import venv'")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok();
        if works {
            return Ok(candidate.to_owned());
        }
    }
    bail!("no python3 with the venv module on PATH: install Python 3.11 (Debian: python3-venv)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOTO: PyTool = PyTool {
        package: "moto",
        extras: &["server"],
        version: "5.2.0",
        executable: "moto_server",
    };

    #[test]
    fn requirements_and_folders_name_the_exact_version_and_extras() {
        assert_eq!(CHECKOV.requirement(), "checkov==3.3.30");
        assert_eq!(CHECKOV.dir_name(), "checkov-3.3.30");
        assert_eq!(MOTO.requirement(), "moto[server]==5.2.0");
        assert_eq!(MOTO.dir_name(), "moto-server-5.2.0");
    }

    #[test]
    fn the_cache_follows_xdg_then_home() {
        let home = Some(PathBuf::from("/home/dev"));
        assert_eq!(
            cache_home(Some("/xdg".into()), home.clone()),
            Some(PathBuf::from("/xdg"))
        );
        assert_eq!(
            cache_home(Some("relative".into()), home.clone()),
            Some(PathBuf::from("/home/dev/.cache"))
        );
        assert_eq!(
            cache_home(None, home),
            Some(PathBuf::from("/home/dev/.cache"))
        );
        assert_eq!(cache_home(None, None), None);
    }

    #[test]
    fn only_a_venv_with_the_marker_and_the_executable_counts_as_installed() {
        let dir = tempfile::TempDir::with_prefix("xtask-tools-test-").unwrap();
        let venv = dir.path().join("venv");
        assert_eq!(state(&venv, &MOTO), State::Absent);

        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("bin").join("moto_server"), "").unwrap();
        assert_eq!(state(&venv, &MOTO), State::Incomplete, "no marker yet");

        std::fs::write(venv.join(MARKER), "moto[server]==5.1.0\n").unwrap();
        assert_eq!(state(&venv, &MOTO), State::Incomplete, "another version");

        std::fs::write(venv.join(MARKER), "moto[server]==5.2.0\n").unwrap();
        assert_eq!(state(&venv, &MOTO), State::Installed);

        std::fs::remove_file(venv.join("bin").join("moto_server")).unwrap();
        assert_eq!(state(&venv, &MOTO), State::Incomplete, "executable gone");
    }
}
