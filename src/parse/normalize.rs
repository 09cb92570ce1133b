//! Fields to a [`Record`]: picks out correlation IDs (by field name and by
//! message pattern), marks state mutations, and fills service and instance
//! from the record or, failing that, from the file's name.

use std::sync::OnceLock;

use regex::Regex;

use crate::config::Config;
use crate::record::{IdRef, Kind, Level, Micros, Record, SourceRef};

use super::Malformed;

/// What a dialect parser extracts from one line, before normalisation.
#[derive(Debug, Default)]
pub struct Fields {
    pub ts: Option<Micros>,
    /// The field the time was read from, for `sniff` to say.
    pub time_key: Option<String>,
    pub level: Option<Level>,
    pub message: String,
    pub service: Option<String>,
    pub instance: Option<String>,
    /// Flattened `dotted.key = text`, in input order.
    pub attrs: Vec<(String, String)>,
    /// The JSON type of each of the first attributes (see
    /// `Record::attr_types`); empty for text formats.
    pub attr_types: String,
    /// A time field that holds no moment a clock can mean (`"time": 1e22`,
    /// a negative epoch): the line is malformed for that reason.
    pub bad_time: Option<String>,
}

/// What the file itself says: its path relative to the bundle root, and the
/// service/instance its name implies.
#[derive(Debug, Clone)]
pub struct FileContext {
    pub rel_path: String,
    pub service: String,
    pub instance: String,
    /// When a record has no time of its own but the source does (a metrics
    /// snapshot: the file's modification time).
    pub fallback_ts: Option<crate::record::Micros>,
}

impl FileContext {
    pub fn for_path(rel_path: &str) -> FileContext {
        let (service, instance) = service_from_file_name(rel_path);
        FileContext {
            rel_path: rel_path.to_string(),
            service,
            instance,
            fallback_ts: None,
        }
    }
}

/// `ts-order-service-6d8f9b7c5-x2x9z.log` is service `ts-order-service`,
/// instance `ts-order-service-6d8f9b7c5-x2x9z`: a Kubernetes Deployment's pod
/// name is the service plus a ReplicaSet hash and a pod suffix.
pub fn service_from_file_name(path: &str) -> (String, String) {
    let base = path.rsplit(['/', '!']).next().unwrap_or(path);
    let mut stem = base;
    for ext in [
        ".gz", ".zst", ".log", ".jsonl", ".json", ".ndjson", ".txt", ".csv", ".prom",
    ] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    let instance = stem.to_string();
    (service_from_pod_name(stem), instance)
}

/// `billing-worker-7f9c6d8b5-h3j6m` -> `billing-worker`; `celery@host` -> host's service.
pub fn service_from_pod_name(name: &str) -> String {
    let name = host_of(name);
    pod_service(name).map_or(name, |(svc, _)| svc).to_string()
}

/// A worker node name `celery@billing-worker-0` runs on host
/// `billing-worker-0`: the host is the instance.
pub fn host_of(name: &str) -> &str {
    name.rsplit('@').next().unwrap_or(name)
}

/// The service a Kubernetes pod (or compose container) name belongs to,
/// and which naming rule said so; None when the name has no such suffix.
pub fn pod_service(name: &str) -> Option<(&str, &'static str)> {
    static POD: OnceLock<Regex> = OnceLock::new();
    let pod = POD.get_or_init(|| {
        Regex::new(r"^(?P<svc>.+?)(?P<hash>-[a-z0-9]{6,10})?-[a-z0-9]{5}$").expect("pod regex")
    });
    if let Some(c) = pod.captures(name) {
        // A bare `name-abcde` is only a pod name if the suffix has a digit:
        // `payments-queue` must not lose `-queue`.
        let suffix = &name[c["svc"].len()..];
        if suffix.bytes().any(|b| b.is_ascii_digit()) {
            let rule = if c.name("hash").is_some() {
                "Deployment pod name (ReplicaSet hash and pod suffix)"
            } else {
                "DaemonSet or bare pod name (random suffix)"
            };
            return Some((&name[..c["svc"].len()], rule));
        }
    }
    // StatefulSet pods (`billing-worker-0`) and compose replicas (`web-1`)
    // end in an ordinal.
    let (svc, ordinal) = name.rsplit_once('-')?;
    (!svc.is_empty()
        && (1..=3).contains(&ordinal.len())
        && ordinal.bytes().all(|b| b.is_ascii_digit()))
    .then_some((svc, "StatefulSet or replica ordinal"))
}

fn is_placeholder(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "null" | "none" | "nil" | "-" | "undefined" | "0"
    )
}

pub fn into_record(
    mut fields: Fields,
    kind: Kind,
    raw: &str,
    line: u64,
    ctx: &FileContext,
    config: &Config,
) -> Result<Record, Malformed> {
    let ts = match (fields.ts, fields.bad_time.take()) {
        (Some(ts), _) => ts,
        (None, Some(v)) => return Err(Malformed::TimeOutOfRange(v)),
        (None, None) => return Err(Malformed::NoTimestamp),
    };
    // A metric sample is context over time, never part of one event: it
    // carries no IDs and mutates nothing, whatever its labels say.
    let traffic = kind != Kind::Metric;
    let mut ids: Vec<IdRef> = Vec::new();
    let mut context_ids: Vec<IdRef> = Vec::new();
    if traffic {
        for (k, v) in &fields.attrs {
            if config.id_kind(k).is_none() {
                match business_id_field(k, v) {
                    Some(BusinessId::Context) => push_unique(&mut context_ids, k, v),
                    Some(BusinessId::Followed) => push_unique(&mut ids, k, v),
                    None => {}
                }
                continue;
            }
            // A list of IDs (Zeek's `cert_chain_fps`, `conn_uids`) is one ID per element.
            let list = v
                .starts_with('[')
                .then(|| serde_json::from_str::<Vec<String>>(v).ok())
                .flatten();
            match list {
                Some(list) => {
                    for item in list.iter().filter(|i| !is_placeholder(i)) {
                        push_unique(&mut ids, k, item);
                    }
                }
                _ if !is_placeholder(v) => push_unique(&mut ids, k, v),
                _ => {}
            }
        }
        for p in &config.id_patterns {
            for c in p.regex.captures_iter(&fields.message) {
                if let Some(m) = c.name("id") {
                    push_unique(&mut ids, &p.kind, m.as_str());
                }
            }
        }
    }
    let mutation = kind == Kind::IdemRow || (traffic && config.mutation(&fields.message).is_some());
    let (service, instance) = identity(fields.service, fields.instance, kind, ctx, config);
    Ok(Record {
        ts,
        source: SourceRef {
            path: ctx.rel_path.clone(),
            line,
        },
        service,
        instance,
        kind,
        level: fields.level.unwrap_or(Level::Unknown),
        message: fields.message,
        ids,
        attrs: fields.attrs,
        attr_types: fields.attr_types,
        raw: raw.to_string(),
        mutation,
        skew: 0,
        context_ids,
    })
}

/// Service and instance, from the data: a `[services]` rule over the
/// instance wins; then the service the record names; then the service its
/// pod or host name implies (a pod name the record carries, a Celery
/// worker's host); then the file's name.
fn identity(
    service: Option<String>,
    instance: Option<String>,
    kind: Kind,
    ctx: &FileContext,
    config: &Config,
) -> (String, String) {
    let from_record = instance.is_some();
    let instance = match instance {
        Some(i) => host_of(&i).to_string(),
        None => ctx.instance.clone(),
    };
    if let Some(s) = config.service_rule(&instance) {
        return (s, instance);
    }
    let service = service.unwrap_or_else(|| {
        if from_record || kind == Kind::TaskEvent {
            // Celery events name the worker, not the file they were dumped to.
            service_of_instance(&instance).unwrap_or_else(|| ctx.service.clone())
        } else {
            ctx.service.clone()
        }
    });
    (service, instance)
}

/// [`pod_service`] of an instance name, remembered for the last name seen
/// on this thread: a file's records name the same pod line after line, and
/// the pattern is not worth running a million times.
fn service_of_instance(instance: &str) -> Option<String> {
    thread_local! {
        static LAST: std::cell::RefCell<(String, Option<String>)> =
            const { std::cell::RefCell::new((String::new(), None)) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != instance {
            last.1 = pod_service(instance).map(|(svc, _)| svc.to_string());
            last.0.clear();
            last.0.push_str(instance);
        }
        last.1.clone()
    })
}

/// Why a record got its service and instance, in words for `sniff`.
pub fn explain_identity(r: &Record, ctx: &FileContext, config: &Config) -> String {
    let field_with = |value: &str| {
        r.attrs
            .iter()
            .find(|(_, v)| v == value || host_of(v) == value)
            .map(|(k, _)| k.clone())
    };
    let service_why = if config.service_rule(&r.instance).is_some() {
        "a [[services]] rule over the instance".to_string()
    } else if let Some(k) = field_with(&r.service) {
        format!("field \"{k}\"")
    } else if r.service == ctx.service {
        let stem = &ctx.instance;
        match pod_service(stem) {
            Some((_, rule)) => format!("the file's name, a {rule}"),
            None => "the file's name".to_string(),
        }
    } else {
        match pod_service(&r.instance) {
            Some((_, rule)) => format!("its instance's name, a {rule}"),
            None => "the record".to_string(),
        }
    };
    let instance_why = match field_with(&r.instance) {
        Some(k) => format!("field \"{k}\""),
        None if r.instance == ctx.instance => "the file's name".to_string(),
        None => "the record's wrapper".to_string(),
    };
    format!(
        "service {} (from {service_why}), instance {} (from {instance_why})",
        r.service, r.instance
    )
}

/// What an ID field no list names is, by its name and value.
#[derive(Debug, PartialEq, Eq)]
enum BusinessId {
    /// `charge_id`, `orderId`, `payment.id`: one business object, followed.
    Followed,
    /// `customer_id`, `user.id`, `tenantId`: who it concerns; searchable,
    /// never followed (it joins every event of that customer).
    Context,
}

/// Names whose IDs say who an event concerns rather than what it is.
const IDENTITY_STEMS: &[&str] = &[
    "customer",
    "user",
    "enduser",
    "account",
    "session",
    "tenant",
    "merchant",
    "org",
    "organization",
    "owner",
    "client",
    "member",
    "seller",
    "buyer",
    "shop",
    "store",
];

/// Names whose IDs say where something ran: every record of a host or a
/// process carries one, so they join everything and say nothing of an event.
const INFRA_STEMS: &[&str] = &[
    "process",
    "thread",
    "worker",
    "node",
    "host",
    "instance",
    "container",
    "pod",
    "machine",
    "boot",
    "cluster",
    "region",
    "zone",
    "deployment",
    "build",
    "commit",
    "version",
    "image",
    "device",
    "cpu",
    "pid",
    "tid",
    "connection",
    "socket",
    "shard",
    "partition",
];

/// `FIELD_id`, `fieldId`, `field.id`, `field-ID` whose value looks like an
/// ID: one token of at least 6 characters with a digit in it (not a count,
/// a flag or a word), at most 128 long.
fn business_id_field(key: &str, value: &str) -> Option<BusinessId> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let stem = if last == "id" || last == "ID" {
        // `payment.id`: the object is the segment before.
        key.rsplit('.').nth(1)?
    } else {
        // A reference names one object as an id does (`resource_ref`,
        // `pspReference`).
        [
            "_id",
            "-id",
            "Id",
            "ID",
            "_ID",
            "_ref",
            "Ref",
            "_reference",
            "Reference",
        ]
        .iter()
        .find_map(|s| last.strip_suffix(s))?
    };
    if stem.is_empty() {
        return None;
    }
    let v = value.trim();
    let looks_like_id = (6..=128).contains(&v.len())
        && v.bytes().any(|b| b.is_ascii_digit())
        && !v
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'[');
    let stem = crate::config::normalise_field(stem);
    if !looks_like_id || INFRA_STEMS.iter().any(|s| stem.ends_with(s)) {
        return None;
    }
    if IDENTITY_STEMS
        .iter()
        .any(|s| stem == *s || stem.ends_with(s))
    {
        Some(BusinessId::Context)
    } else {
        Some(BusinessId::Followed)
    }
}

fn push_unique(ids: &mut Vec<IdRef>, field: &str, value: &str) {
    let value = value.trim();
    if !ids.iter().any(|i| i.value == value) {
        ids.push(IdRef {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_lose_their_suffixes() {
        let cases = [
            ("ts-order-service-6d8f9b7c5-x2x9z.log", "ts-order-service"),
            ("logs/adservice-5f6585d649-fnmft.log", "adservice"),
            ("payments-api.log", "payments-api"),
            ("redis-queue.log.gz", "redis-queue"),
            ("db/operation_log.csv", "operation_log"),
            ("b.tgz!x/web-7d4b9c8f-abc12.log", "web"),
            ("billing-worker-0.log", "billing-worker"),
            ("pods/fluentd-x7k2p.log", "fluentd"),
            ("ledger-v2.log", "ledger-v2"),
        ];
        for (path, svc) in cases {
            assert_eq!(service_from_file_name(path).0, svc, "{path}");
        }
        assert_eq!(
            service_from_pod_name("celery@billing-worker-7f9c6d8b5-h3j6m"),
            "billing-worker"
        );
    }

    #[test]
    fn business_ids_by_name_and_value() {
        use BusinessId::*;
        for (key, value, want) in [
            ("charge_id", "ch_3NfA9b2eZvKYlo2C", Some(Followed)),
            ("orderId", "01JP2R2RC77GSTR1T6GH4QRKCC", Some(Followed)),
            ("payment.id", "pay_97ogKIThFkA2Cj1aEg5d", Some(Followed)),
            ("order_id", "4711042", Some(Followed)),
            ("customer_id", "cus_XgxQJdZnteHk1C", Some(Context)),
            ("attributes.enduser.id", "cus_XgxQJdZnteHk1C", Some(Context)),
            ("merchantId", "acct_1Nv0FGQ9RKHgCVdK", Some(Context)),
            // Not IDs: too short, no digit, infrastructure, not an _id name.
            ("threadId", "1", None),
            ("status_id", "active", None),
            ("_BOOT_ID", "0dc874d3fbd44bdbb6fbcfaa27481492", None),
            ("process_id", "123456", None),
            ("pid", "123456", None),
            ("paid", "yes12345", None),
            (
                "resource_ref",
                "ch_Je3u2yCBiWePCYE5xKo65YwA",
                Some(Followed),
            ),
            ("pspReference", "7542754172323096", Some(Followed)),
        ] {
            assert_eq!(business_id_field(key, value), want, "{key}={value}");
        }
    }

    #[test]
    fn ids_come_from_fields_and_message_text() {
        let fields = Fields {
            ts: Some(1),
            message: "Task billing.charge[3f2a9c1e-1111-4222-8333-944455556666] received".into(),
            attrs: vec![
                ("reqId".into(), "req_1".into()),
                ("kwargs.event_id".into(), "evt_1".into()),
                ("tenant".into(), "acme".into()),
                ("trace_id".into(), "null".into()),
            ],
            ..Fields::default()
        };
        let ctx = FileContext::for_path("w.log");
        let r = into_record(fields, Kind::Log, "raw", 3, &ctx, &Config::default()).unwrap();
        let values: Vec<_> = r.ids.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(
            values,
            ["req_1", "evt_1", "3f2a9c1e-1111-4222-8333-944455556666"]
        );
    }
}
