//! config_drift: instances of one service running with different config
//! fingerprints (seen in startup lines that log `config_hash` and the like).

use std::collections::BTreeMap;

use crate::record::{Record, SourceRef};

use super::{Finding, FindingKind};

const CONFIG_FIELDS: &[&str] = &[
    "config_hash",
    "config_version",
    "config_fingerprint",
    "config_checksum",
];

/// One instance's configuration fingerprint, as last logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigSetting {
    pub service: String,
    pub instance: String,
    /// The field it was logged under (`config_hash`, `boot.config_version`, …).
    pub setting: String,
    pub value: String,
    pub source: SourceRef,
    pub ts: crate::record::Micros,
    /// The other fields of the line that logged it: the settings behind
    /// the fingerprint (`max_retries = 3`), the instance's own identity
    /// (pid, host) and IDs aside.
    pub settings: Vec<(String, String)>,
}

/// Fields of a startup line that say which process this is, not how it is
/// configured: they differ between any two runs.
const IDENTITY_FIELDS: &[&str] = &[
    "pid",
    "ppid",
    "hostname",
    "host",
    "host.name",
    "pod",
    "pod_name",
    "instance",
    "node",
    "thread",
    "threadName",
    "process",
    "processName",
    "ip",
    "started_at",
    "uptime",
    // The logger, not the program: `name` is python-json-logger's.
    "name",
    "logger",
    "logger_name",
    "caller",
];

/// The latest setting of every instance that logs one, gathered record by
/// record.
#[derive(Default)]
pub struct Settings {
    latest: BTreeMap<(String, String), ConfigSetting>,
    /// Every line that logged one, a start or a reload, up to
    /// [`MAX_HISTORY`].
    history: Vec<ConfigSetting>,
}

/// Config lines kept for the timeline of changes: a service that logs its
/// config on every request would otherwise fill memory.
pub const MAX_HISTORY: usize = 1000;

/// The name a fingerprint hopline computed itself goes by (see
/// [`is_config_line`]).
pub const COMPUTED: &str = "settings (fingerprint by hopline)";

/// A line that says it loaded its configuration, and nothing else
/// (`config loaded`, `configuration reloaded`): its other fields are the
/// settings. Not `Config loaded from …`, which names a file, not a value.
pub fn is_config_line(message: &str) -> bool {
    let m = message
        .trim()
        .trim_end_matches(['.', '!'])
        .to_ascii_lowercase();
    let rest = m
        .strip_prefix("configuration")
        .or_else(|| m.strip_prefix("config"));
    matches!(
        rest.map(str::trim),
        Some("loaded" | "reloaded" | "applied" | "updated")
    )
}

impl Settings {
    pub fn add(&mut self, r: &Record) {
        let found = r.attrs.iter().find(|(k, v)| {
            let last = k.rsplit('.').next().unwrap_or(k);
            CONFIG_FIELDS.contains(&last) && !v.is_empty()
        });
        let settings = |skip: &str| -> Vec<(String, String)> {
            r.attrs
                .iter()
                .filter(|(name, _)| {
                    name != skip
                        && !IDENTITY_FIELDS.contains(&name.as_str())
                        && !r.ids.iter().any(|id| &id.field == name)
                })
                .cloned()
                .collect()
        };
        let (setting, value, settings) = match found {
            Some((k, v)) => (k.clone(), v.clone(), settings(k)),
            // No fingerprint logged: one made from the settings themselves,
            // so a reload that changed them shows as a change.
            None if is_config_line(&r.message) => {
                let settings = settings("");
                let mut sorted: Vec<&(String, String)> = settings.iter().collect();
                sorted.sort();
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for (k, v) in sorted {
                    for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
                        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
                    }
                }
                (COMPUTED.to_string(), format!("{:08x}", h >> 32), settings)
            }
            None => return,
        };
        {
            let setting = ConfigSetting {
                service: r.service.clone(),
                instance: r.instance.clone(),
                setting,
                value,
                source: r.source.clone(),
                ts: r.ts,
                settings,
            };
            if self.history.len() < MAX_HISTORY {
                self.history.push(setting.clone());
            }
            self.latest
                .insert((r.service.clone(), r.instance.clone()), setting);
        }
    }

    /// The latest by service then instance, and every line in time order.
    pub fn finish(mut self) -> (Vec<ConfigSetting>, Vec<ConfigSetting>) {
        self.history
            .sort_by(|a, b| (a.ts, &a.source).cmp(&(b.ts, &b.source)));
        (self.latest.into_values().collect(), self.history)
    }
}

/// Settings that differ between two lines of one instance, in words:
/// `retries: 1 → 0`, `pool_max: (none) → 20`.
pub fn changes(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    let get = |list: &[(String, String)], k: &str| {
        list.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    let mut names: Vec<&String> = before.iter().chain(after).map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|k| {
            let (a, b) = (get(before, k), get(after, k));
            (a != b).then(|| {
                format!(
                    "{k}: {} → {}",
                    a.as_deref().unwrap_or("(none)"),
                    b.as_deref().unwrap_or("(none)")
                )
            })
        })
        .collect()
}

/// How many config lines changed their instance's value: reloads and
/// redeploys that did something.
pub fn changed_lines(history: &[ConfigSetting]) -> usize {
    let mut last: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    history
        .iter()
        .filter(|s| {
            last.insert((&s.service, &s.instance), &s.value)
                .is_some_and(|before| before != s.value)
        })
        .count()
}

/// Services whose instances run different settings.
pub fn config_drift(settings: &[ConfigSetting]) -> Vec<Finding> {
    let mut by_service: BTreeMap<&str, Vec<&ConfigSetting>> = BTreeMap::new();
    for s in settings {
        by_service.entry(&s.service).or_default().push(s);
    }
    let mut out = Vec::new();
    for (service, instances) in by_service {
        let mut values: Vec<&str> = instances.iter().map(|s| s.value.as_str()).collect();
        values.sort();
        values.dedup();
        if values.len() < 2 {
            continue;
        }
        let detail: Vec<String> = instances
            .iter()
            .map(|s| format!("{}={}", s.instance, s.value))
            .collect();
        let mut ids = BTreeMap::new();
        ids.insert("service".into(), service.to_string());
        out.push(Finding::new(
            FindingKind::ConfigDrift,
            ids,
            format!(
                "{service} runs {} different configs: {}",
                values.len(),
                detail.join(", ")
            ),
            instances.iter().map(|s| s.source.clone()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn settings(records: &[Record]) -> Vec<ConfigSetting> {
        let mut s = Settings::default();
        records.iter().for_each(|r| s.add(r));
        s.finish().0
    }

    #[test]
    fn lines_that_say_they_loaded_their_config_are_config_lines() {
        for yes in ["config loaded", "Config reloaded.", "configuration applied"] {
            assert!(is_config_line(yes), "{yes}");
        }
        for no in ["Config loaded from", "loading config", "config"] {
            assert!(!is_config_line(no), "{no}");
        }
    }

    #[test]
    fn drift_across_instances_only() {
        let mut a = rec(1, 1, "worker", &[], "config loaded");
        a.attrs.push(("config_hash".into(), "abc".into()));
        let mut b = a.clone();
        b.instance = "worker-2".into();
        b.source.line = 2;
        assert!(config_drift(&settings(&[a.clone(), b.clone()])).is_empty());
        b.attrs[0].1 = "def".into();
        let f = config_drift(&settings(&[a, b]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.len(), 2);
    }
}
