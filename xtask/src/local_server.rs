//! A server a command starts on 127.0.0.1 for the length of a run (moto for `integration`, the
//! dev server for `contract`): output to a log file, ready once it answers, killed when dropped,
//! also when the run fails.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// A child process serving on 127.0.0.1:`port`, killed when dropped.
pub struct LocalServer {
    child: Child,
    pub port: u16,
}

impl LocalServer {
    /// Spawns `command` (no stdin, stdout and stderr to `log`) and waits until `ready(port)`
    /// holds, failing when the process exits first or `within` passes.
    pub fn start(
        name: &str,
        mut command: Command,
        port: u16,
        log: &Path,
        within: Duration,
        ready: impl Fn(u16) -> bool,
    ) -> crate::Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", command.get_program().display()))?;
        let mut server = LocalServer { child, port };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited at start ({status}); see {}", log.display());
            }
            if ready(port) {
                println!(
                    "{name} ready on {} in {:.1} s",
                    server.url(),
                    started.elapsed().as_secs_f64()
                );
                return Ok(server);
            }
            // Dropping `server` stops it.
            ensure!(
                started.elapsed() <= within,
                "{name} did not answer on {} within {} s; see {}",
                server.url(),
                within.as_secs(),
                log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the kernel says is free now (bound to 127.0.0.1:0, then released).
pub fn free_port() -> crate::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
