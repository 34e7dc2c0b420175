//! The step list a deploy prints as it goes: `[3/10] upload`, then what the step runs, then how
//! long it took; a table of the steps and their seconds at the end.

use std::time::{Duration, Instant};

pub struct Progress {
    names: Vec<&'static str>,
    /// Dry runs print no times, so their output is the same on every run.
    timed: bool,
    current: Option<(&'static str, Instant)>,
    done: Vec<(&'static str, Duration)>,
}

impl Progress {
    pub fn new(names: Vec<&'static str>, timed: bool) -> Self {
        Self {
            names,
            timed,
            current: None,
            done: Vec::new(),
        }
    }

    /// Ends the running step and starts `name` (one of the names given to [`Progress::new`]).
    pub fn start(&mut self, name: &'static str) {
        self.end_current();
        let number = self
            .names
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| i + 1);
        println!("[{number}/{}] {name}", self.names.len());
        self.current = Some((name, Instant::now()));
    }

    fn end_current(&mut self) {
        if let Some((name, started)) = self.current.take() {
            let took = started.elapsed();
            if self.timed {
                println!("      done in {:.1} s", took.as_secs_f64());
            }
            self.done.push((name, took));
        }
    }

    /// Ends the last step and prints the table of steps and seconds.
    pub fn finish(&mut self) {
        self.end_current();
        if !self.timed {
            return;
        }
        println!("\n{:<20} {:>8}", "step", "seconds");
        for (name, took) in &self.done {
            println!("{name:<20} {:>8.1}", took.as_secs_f64());
        }
        let total: Duration = self.done.iter().map(|(_, took)| *took).sum();
        println!("{:<20} {:>8.1}", "total", total.as_secs_f64());
    }

    /// Reports the step that failed, and after how long.
    pub fn fail(&mut self) {
        if let Some((name, started)) = self.current.take() {
            println!(
                "      FAILED: {name} after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}
