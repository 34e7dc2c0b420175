//! CloudWatch Embedded Metric Format (EMF): one JSON line per data point set.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

#[derive(Clone)]
enum Sink {
    /// Lambda: stdout goes to CloudWatch Logs, which extracts EMF metrics.
    Stdout,
    /// Tests: keep the lines.
    Memory(Arc<Mutex<Vec<String>>>),
    Off,
}

/// Emits metrics under one namespace, every point tagged with the environment.
#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    environment: String,
    sink: Sink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Metrics {
    pub fn stdout(namespace: &str, environment: &str) -> Self {
        Self::with_sink(namespace, environment, Sink::Stdout)
    }

    pub fn off() -> Self {
        Self::with_sink("", "", Sink::Off)
    }

    /// A sink that records lines, and the handle to read them.
    pub fn memory(namespace: &str, environment: &str) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (
            Self::with_sink(namespace, environment, Sink::Memory(lines.clone())),
            lines,
        )
    }

    fn with_sink(namespace: &str, environment: &str, sink: Sink) -> Self {
        Self {
            namespace: namespace.to_owned(),
            environment: environment.to_owned(),
            sink,
        }
    }

    /// One EMF record: `values` share the dimension set `Environment` + `dimensions`.
    pub fn emit(&self, dimensions: &[(&str, &str)], values: &[(&str, f64, Unit)]) {
        if matches!(self.sink, Sink::Off) || values.is_empty() {
            return;
        }
        let line = self.render(dimensions, values, now_millis());
        match &self.sink {
            Sink::Stdout => println!("{line}"),
            Sink::Memory(lines) => lines.lock().unwrap_or_else(|p| p.into_inner()).push(line),
            Sink::Off => {}
        }
    }

    fn render(
        &self,
        dimensions: &[(&str, &str)],
        values: &[(&str, f64, Unit)],
        timestamp: u128,
    ) -> String {
        let mut names = vec![Value::from("Environment")];
        names.extend(dimensions.iter().map(|(k, _)| Value::from(*k)));
        let definitions: Vec<Value> = values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [names],
                    "Metrics": definitions,
                }]
            }),
        );
        root.insert("Environment".into(), Value::from(self.environment.as_str()));
        for (k, v) in dimensions {
            root.insert((*k).into(), Value::from(*v));
        }
        for (name, value, _) in values {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_the_embedded_metric_format() {
        let (m, lines) = Metrics::memory("Imagegen", "staging");
        m.emit(
            &[("Route", "/v1/images"), ("StatusClass", "2xx")],
            &[
                ("Requests", 1.0, Unit::Count),
                ("Latency", 12.5, Unit::Milliseconds),
            ],
        );
        let line = lines.lock().unwrap()[0].clone();
        let v: Value = serde_json::from_str(&line).unwrap();
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Imagegen");
        assert_eq!(
            cw["Dimensions"][0],
            json!(["Environment", "Route", "StatusClass"])
        );
        assert_eq!(
            cw["Metrics"][1],
            json!({"Name": "Latency", "Unit": "Milliseconds"})
        );
        assert_eq!(v["Environment"], "staging");
        assert_eq!(v["Route"], "/v1/images");
        assert_eq!(v["Requests"], 1.0);
        assert!(v["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    }
}
