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

pub fn config_drift(records: &[Record]) -> Vec<Finding> {
    // service -> instance -> (latest value, its evidence)
    let mut seen: BTreeMap<&str, BTreeMap<&str, (&str, SourceRef)>> = BTreeMap::new();
    for r in records {
        let value = r.attrs.iter().find_map(|(k, v)| {
            let last = k.rsplit('.').next().unwrap_or(k);
            CONFIG_FIELDS.contains(&last).then_some(v.as_str())
        });
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            seen.entry(&r.service)
                .or_default()
                .insert(&r.instance, (v, r.source.clone()));
        }
    }
    let mut out = Vec::new();
    for (service, instances) in seen {
        let mut values: Vec<&str> = instances.values().map(|(v, _)| *v).collect();
        values.sort();
        values.dedup();
        if values.len() < 2 {
            continue;
        }
        let detail: Vec<String> = instances
            .iter()
            .map(|(i, (v, _))| format!("{i}={v}"))
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
            instances.into_values().map(|(_, s)| s),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    #[test]
    fn drift_across_instances_only() {
        let mut a = rec(1, 1, "worker", &[], "config loaded");
        a.attrs.push(("config_hash".into(), "abc".into()));
        let mut b = a.clone();
        b.instance = "worker-2".into();
        b.source.line = 2;
        assert!(config_drift(&[a.clone(), b.clone()]).is_empty());
        b.attrs[0].1 = "def".into();
        let f = config_drift(&[a, b]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence.len(), 2);
    }
}
