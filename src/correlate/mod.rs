//! One event's footprint: every record reachable from an ID through the IDs
//! records share, in true order. Reaches stored records only through
//! [`RecordStore`] — kept this narrow so a team's own log store can answer
//! the same two questions at fleet scale.

pub mod classify;
pub mod clock;
pub mod events;
pub mod footprint;
pub mod hops;
pub mod split;

use crate::record::Record;

pub use clock::Clock;
pub use events::{EventSummary, Events, IdGraph};
pub use footprint::{Footprint, HubRule, HubSkip, footprint};

/// The two questions correlation asks of stored records.
pub trait RecordStore {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Every record carrying any of these ID values.
    fn records_carrying(&self, ids: &[String]) -> Result<Vec<Record>, Self::Error>;
    /// How many records carry this ID value.
    fn carriers(&self, id: &str) -> Result<u64, Self::Error>;
    /// Up to `limit` distinct ID values starting with `prefix`, in order.
    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>, Self::Error>;
    /// The clock offsets the last whole-index analysis found, kept with the
    /// records; correlation applies them to what it reads.
    fn clock(&self) -> Clock;
    /// The IDs the last whole-index analysis found to be hubs (see
    /// `events::IdGraph`): a footprint does not follow them either, so a
    /// timeline and the event list agree on what an event is.
    fn known_hubs(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Records as the whole-index analysis reads them: more than once, in the
/// same order each time, as the JSON they are stored as, with an empty
/// `raw` (no analysis reads it, and it is half the bytes). The index
/// answers from one snapshot.
pub trait RecordScan {
    type Error: std::error::Error + Send + Sync + 'static;
    fn scan(&self, each: &mut dyn FnMut(&[u8])) -> Result<(), Self::Error>;
    /// Where buckets may spill when the records outgrow memory.
    fn spill_dir(&self) -> Option<std::path::PathBuf>;
}

/// The services records pass through, in the order they first appear:
/// the lanes of a timeline, the participants of a sequence diagram.
pub fn services_in_order(records: &[Record]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for r in records {
        if !seen.contains(&r.service) {
            seen.push(r.service.clone());
        }
    }
    seen
}

/// An analysis event's records in true order: exactly the carriers of its
/// (non-hub) IDs, since the event is the component those IDs join — less
/// the other side of an idempotency key reused with another payload (see
/// [`split`]), as the analysis split it.
pub fn event_records<S: RecordStore>(
    store: &S,
    event: &EventSummary,
    config: &crate::config::Config,
) -> Result<Vec<Record>, S::Error> {
    let mut records = store.records_carrying(&event.id_values())?;
    on_clock(&mut records, &store.clock());
    sort_true_order(&mut records);
    let hubs: std::collections::HashSet<String> = store.known_hubs().into_iter().collect();
    let parts = split::split(&records, config, |v| !hubs.contains(v));
    if parts.count > 1 {
        let part = records
            .iter()
            .position(|r| r.carries(&event.key.value))
            .map_or(0, |i| parts.of_record[i]);
        records = parts.records_of(&records, part);
    }
    Ok(records)
}

/// Records read from a store, moved onto the corrected clock.
pub fn on_clock(records: &mut [Record], clock: &Clock) {
    if !clock.is_empty() {
        records.iter_mut().for_each(|r| clock.apply(r));
    }
}

/// True order: time, then file and line for records of the same instant.
pub fn sort_true_order(records: &mut [Record]) {
    records.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
}
