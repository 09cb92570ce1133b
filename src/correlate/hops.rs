//! The arrows of a timeline: which records show one service calling
//! another, and which show the answer coming back. One list serves the TUI's
//! lanes, the timeline table, `--json` and the Mermaid diagram, so they never
//! disagree about what happened.
//!
//! Two neighbouring lines of different services are not a call. An arrow
//! needs evidence in the data, read from IDs and order alone (never from
//! message words, which differ in every team's logs):
//!
//! - **Call** into service B at record `i`, where B starts a visit (a run of
//!   B's records): the caller is a service A that shares an ID with B's
//!   visit, whose last record with that ID comes before `i`, and which is
//!   still *open* (it logs again after `i`): A is waiting on B. Among such
//!   services the innermost is taken, the one whose shared record is latest.
//!   With no open sharer (a queue consumer that runs after its producer
//!   finished), the caller is the latest record that carried an ID which B
//!   had never carried before: the callee's first record with an ID follows
//!   a caller record with it.
//! - **Reply** from B back to its caller A: A's next record follows B's last
//!   record of that call, and the call is over: no ID that B's side of it
//!   carried (and A did not) turns up again later. A caller that resumes
//!   while its callee is still working (a timeout, a "giving up waiting")
//!   is no reply: no arrow, a note on its own lane.
//!
//! Frames track this: each call opens a frame for the callee under the
//! caller's. A visit of a service whose frame is an ancestor of the running
//! one resumes it (and closes the frame under it, drawing the reply); a
//! visit of a service whose frame is still open continues it. A closed
//! frame's service is called anew by an open caller (a second GetCart); with
//! no caller waiting, its visit is the old frame going on, and the reply
//! drawn when it closed is withdrawn (a worker that logs its time limit
//! after the API gave up waiting).
//!
//! Among open callers, one that carried an ID the callee never carried
//! before is preferred over one that only shares an old ID; the innermost
//! (latest) wins within each.

use std::collections::HashSet;

use serde::Serialize;

use crate::record::{IdRef, Kind, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrowKind {
    Call,
    Reply,
}

/// An arrow between two lanes: record `from` (an index into the timeline's
/// records) to record `to`, and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrow {
    pub kind: ArrowKind,
    pub from: usize,
    pub to: usize,
    /// The ID carried on both sides.
    pub via: IdRef,
    /// Why it was drawn, in words for the detail pane.
    pub why: String,
}

struct Frame {
    service: usize,
    parent: Option<usize>,
    closed: bool,
    /// The reply drawn when this frame closed, withdrawn if it goes on.
    reply: Option<usize>,
    /// The last record of any span the frame's records carried, and whether
    /// each of those spans logged at least twice (see `next_request`).
    span_reach: Option<usize>,
    spans_closed: bool,
}

impl Frame {
    fn new(service: usize, parent: Option<usize>) -> Frame {
        Frame {
            service,
            parent,
            closed: false,
            reply: None,
            span_reach: None,
            spans_closed: true,
        }
    }
}

/// The arrows of `records`, which must be in true order.
pub fn arrows(records: &[Record]) -> Vec<Arrow> {
    let takes_part = |r: &Record| matches!(r.kind, Kind::Log | Kind::TaskEvent);
    let mut names: Vec<&str> = Vec::new();
    let service: Vec<usize> = records
        .iter()
        .map(|r| match names.iter().position(|s| *s == r.service) {
            Some(i) => i,
            None => {
                names.push(&r.service);
                names.len() - 1
            }
        })
        .collect();
    let mut last_of = vec![0usize; names.len()];
    for (i, &s) in service.iter().enumerate() {
        if takes_part(&records[i]) {
            last_of[s] = i;
        }
    }
    let mut frames: Vec<Frame> = Vec::new();
    let mut frame_of: Vec<Option<usize>> = vec![None; names.len()];
    // IDs each service has carried so far.
    let mut carried: Vec<HashSet<&str>> = vec![HashSet::new(); names.len()];
    let mut out: Vec<Option<Arrow>> = Vec::new();
    // Reply candidates: (callee frame, caller service, record, index in out).
    let mut replies: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut frame_at: Vec<Option<usize>> = vec![None; records.len()];
    let mut current: Option<usize> = None;
    let mut prev_service: Option<usize> = None;
    // Where a visit ended because a new request began (see `next_request`).
    let mut restart: Option<usize> = None;
    let spans = span_stats(records);

    let mut i = 0;
    while i < records.len() {
        let r = &records[i];
        if !takes_part(r) {
            i += 1;
            continue;
        }
        let b = service[i];
        // The visit: this record and the following ones of the same service,
        // up to a new request shown by its spans (see `next_request`).
        let mut end = i + 1;
        while end < records.len() && (service[end] == b || !takes_part(&records[end])) {
            end += 1;
        }
        let visit_ids: Vec<&IdRef> = (i..end)
            .filter(|&k| service[k] == b)
            .flat_map(|k| records[k].ids.iter())
            .collect();
        if prev_service == Some(b) && restart == Some(i) {
            // Back-to-back requests from the caller still waiting above.
            if let Some(fb) = frame_of[b] {
                frames[fb].closed = true;
                let caller = frames[fb]
                    .parent
                    .filter(|&p| !frames[p].closed && last_of[frames[p].service] > i);
                if let Some(p) = caller {
                    let a = frames[p].service;
                    let from = last_before(records, &service, a, i);
                    if let (Some(from), Some(id)) =
                        (from, shared_id(records, &service, a, i, end, b))
                    {
                        frames.push(Frame::new(b, Some(p)));
                        frame_of[b] = Some(frames.len() - 1);
                        current = frame_of[b];
                        out.push(Some(Arrow {
                            kind: ArrowKind::Call,
                            from,
                            to: i,
                            why: format!(
                                "call: {} is still waiting (it logs again later) and {}'s earlier spans opened and closed before this new one: another request; both carry {}={}",
                                names[a], names[b], id.field, id.value
                            ),
                            via: id.clone(),
                        }));
                    }
                }
            }
        } else if prev_service != Some(b) {
            let novel: Vec<&IdRef> = visit_ids
                .iter()
                .copied()
                .filter(|id| !carried[b].contains(id.value.as_str()))
                .collect();
            let resumed = frame_of[b].filter(|&fb| is_ancestor(&frames, fb, current));
            match resumed {
                Some(fb) => {
                    // Back in a caller: the frame it called is done.
                    if let Some(child) = child_on_path(&frames, fb, current) {
                        frames[child].closed = true;
                        let cs = frames[child].service;
                        if let Some(id) = shared_id(records, &service, cs, i, end, b) {
                            let from = last_before(records, &service, cs, i);
                            frames[child].reply = Some(out.len());
                            replies.push((child, b, i, out.len()));
                            out.push(from.map(|from| Arrow {
                                kind: ArrowKind::Reply,
                                from,
                                to: i,
                                why: format!(
                                    "reply: {} resumes after {}'s last record of the call; both carry {}={}",
                                    names[b], names[cs], id.field, id.value
                                ),
                                via: id.clone(),
                            }));
                        }
                    }
                    current = Some(fb);
                }
                None => {
                    let open_frame = frame_of[b].filter(|&fb| !frames[fb].closed);
                    let excluded = |a: usize| {
                        frame_of[b].is_some_and(|fb| is_ancestor(&frames, fb, frame_of[a]))
                    };
                    // A service still busy with one call takes another only
                    // on the evidence of an ID it never carried (a second
                    // task for the same worker).
                    let caller = find_caller(
                        records,
                        &service,
                        &last_of,
                        &names,
                        (b, i),
                        &visit_ids,
                        &novel,
                        excluded,
                        open_frame.is_none(),
                    );
                    match (open_frame, caller) {
                        (_, Some(arrow)) => {
                            let parent = frame_of[service[arrow.from]];
                            frames.push(Frame::new(b, parent));
                            frame_of[b] = Some(frames.len() - 1);
                            current = frame_of[b];
                            out.push(Some(arrow));
                        }
                        (_, None) => match frame_of[b] {
                            // The service's frame goes on; a closed one was
                            // not done after all, and its reply was no reply.
                            Some(fb) => {
                                goes_on(&mut frames, fb, &mut out);
                                current = Some(fb);
                            }
                            None => {
                                frames.push(Frame::new(b, None));
                                frame_of[b] = Some(frames.len() - 1);
                                current = frame_of[b];
                            }
                        },
                    }
                }
            }
        }
        // A new request inside the run ends this visit there.
        let again = current
            .filter(|&f| frames[f].service == b)
            .and_then(|f| next_request(records, &service, &spans, (b, i, end), &mut frames[f]));
        let end = again.unwrap_or(end);
        for id in (i..end)
            .filter(|&k| service[k] == b)
            .flat_map(|k| records[k].ids.iter())
        {
            carried[b].insert(id.value.as_str());
        }
        for k in (i..end).filter(|&k| service[k] == b) {
            frame_at[k] = current;
        }
        prev_service = Some(b);
        restart = again;
        i = end;
    }
    // A reply needs the call to be over: none of the IDs the callee's side
    // carried (and its caller did not) turns up again later. A worker still
    // charging the first task after the API answered the gateway means the
    // API's answer was no reply to that call.
    for (child, caller, at, k) in replies {
        let in_call = |f: Option<usize>| f.is_some_and(|f| is_ancestor(&frames, child, Some(f)));
        let callers: HashSet<&str> = (0..at)
            .filter(|&x| service[x] == caller)
            .flat_map(|x| records[x].ids.iter().map(|id| id.value.as_str()))
            .collect();
        let own: HashSet<&str> = (0..at)
            .filter(|&x| in_call(frame_at[x]))
            .flat_map(|x| records[x].ids.iter().map(|id| id.value.as_str()))
            .filter(|v| !callers.contains(v))
            .collect();
        let goes_on = records[at + 1..]
            .iter()
            .any(|r| r.ids.iter().any(|id| own.contains(id.value.as_str())));
        if goes_on {
            out[k] = None;
        }
    }
    out.into_iter().flatten().collect()
}

fn is_span(id: &IdRef) -> bool {
    crate::record::is_span_field(&id.field)
}

/// Each span id's first and last record in the timeline, and how many
/// records carry it.
type SpanStats<'r> = std::collections::HashMap<&'r str, (usize, usize, usize)>;

fn span_stats(records: &[Record]) -> SpanStats<'_> {
    let mut stats = SpanStats::new();
    for (k, r) in records.iter().enumerate() {
        for s in r.ids.iter().filter(|id| is_span(id)) {
            let e = stats.entry(s.value.as_str()).or_insert((k, k, 0));
            e.1 = k;
            e.2 += 1;
        }
    }
    stats
}

/// Where, inside service `b`'s run of records `i..end`, a new request
/// begins: back-to-back calls from one caller (frontend → catalogue ×5) log
/// as one run. Their spans tell them apart: a span first seen here, after
/// every span the service's frame carried so far has logged at least twice
/// (it opened and closed) and never logs again in the timeline. A span logged once may be
/// the parent of the next (a server span and its child), and a span that
/// logs again later encloses what follows: neither is a new request.
fn next_request(
    records: &[Record],
    service: &[usize],
    stats: &SpanStats<'_>,
    (b, i, end): (usize, usize, usize),
    frame: &mut Frame,
) -> Option<usize> {
    for k in (i..end).filter(|&k| service[k] == b) {
        let here: Vec<(usize, usize, usize)> = records[k]
            .ids
            .iter()
            .filter(|id| is_span(id))
            .map(|id| stats[id.value.as_str()])
            .collect();
        if here.is_empty() {
            continue;
        }
        let new = here.iter().all(|&(first, _, _)| first == k);
        // At `i` the visit begins anyway; a split there would never end.
        if k > i && new && frame.spans_closed && frame.span_reach.is_some_and(|r| r < k) {
            return Some(k);
        }
        for (_, last, count) in here {
            frame.span_reach = Some(frame.span_reach.map_or(last, |r| r.max(last)));
            frame.spans_closed &= count >= 2;
        }
    }
    None
}

fn is_ancestor(frames: &[Frame], ancestor: usize, of: Option<usize>) -> bool {
    let mut at = of;
    while let Some(f) = at {
        if f == ancestor {
            return true;
        }
        at = frames[f].parent;
    }
    false
}

/// The frame directly under `ancestor` on the way up from `of`.
fn child_on_path(frames: &[Frame], ancestor: usize, of: Option<usize>) -> Option<usize> {
    let mut at = of?;
    while let Some(p) = frames[at].parent {
        if p == ancestor {
            return Some(at);
        }
        at = p;
    }
    None
}

/// Frame `f` goes on: any closed frame above it was not done after all,
/// so the reply drawn when it closed is withdrawn.
fn goes_on(frames: &mut [Frame], f: usize, out: &mut [Option<Arrow>]) {
    let mut at = Some(f);
    while let Some(x) = at {
        if frames[x].closed {
            frames[x].closed = false;
            if let Some(k) = frames[x].reply.take() {
                out[k] = None;
            }
        }
        at = frames[x].parent;
    }
}

/// An ID that service `a`'s records before `i` and the visit `i..end` of
/// service `b` both carry.
fn shared_id<'r>(
    records: &'r [Record],
    service: &[usize],
    a: usize,
    i: usize,
    end: usize,
    b: usize,
) -> Option<&'r IdRef> {
    let visit: HashSet<&str> = (i..end)
        .filter(|&k| service[k] == b)
        .flat_map(|k| records[k].ids.iter().map(|id| id.value.as_str()))
        .collect();
    (0..i)
        .rev()
        .filter(|&k| service[k] == a)
        .flat_map(|k| records[k].ids.iter())
        .find(|id| visit.contains(id.value.as_str()))
}

fn last_before(records: &[Record], service: &[usize], s: usize, i: usize) -> Option<usize> {
    (0..i)
        .rev()
        .find(|&k| service[k] == s && matches!(records[k].kind, Kind::Log | Kind::TaskEvent))
}

/// The record that called visit `i` of service `b`: the latest record of
/// another service with an ID `b` never carried before (the callee's first
/// record with an ID follows its caller's), else the innermost open service
/// sharing an ID. `excluded` services (those `b` itself is waiting on) never
/// call it.
#[allow(clippy::too_many_arguments)]
fn find_caller(
    records: &[Record],
    service: &[usize],
    last_of: &[usize],
    names: &[&str],
    (b, i): (usize, usize),
    visit_ids: &[&IdRef],
    novel: &[&IdRef],
    excluded: impl Fn(usize) -> bool,
    any_evidence: bool,
) -> Option<Arrow> {
    let excluded = &excluded;
    let candidates = || {
        (0..i).rev().filter(move |&k| {
            let a = service[k];
            a != b && matches!(records[k].kind, Kind::Log | Kind::TaskEvent) && !excluded(a)
        })
    };
    let carrying = |k: usize, ids: &[&IdRef]| -> Option<IdRef> {
        records[k]
            .ids
            .iter()
            .find(|id| ids.iter().any(|v| v.value == id.value))
            .cloned()
    };
    // A waiting service's evidence is its latest record: what it did just
    // before the callee started (not an ID it logged seconds earlier).
    let mut latest: Vec<usize> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    for k in candidates() {
        if seen.insert(service[k]) {
            latest.push(k);
        }
    }
    let open_latest = || latest.iter().copied().filter(|&k| last_of[service[k]] > i);
    let waiting = |k: usize, id: &IdRef| {
        format!(
            "call: {} was waiting (it logs again later) and is the latest service to carry {}={} before {}",
            names[service[k]], id.field, id.value, names[b]
        )
    };
    let first_with = |k: usize, id: &IdRef| {
        format!(
            "call: {}'s first record with {}={} follows {}'s record with it",
            names[b], id.field, id.value, names[service[k]]
        )
    };
    let found = open_latest()
        .find_map(|k| carrying(k, novel).map(|id| (k, first_with(k, &id), id)))
        .filter(|_| any_evidence || !novel.is_empty())
        .or_else(|| {
            open_latest()
                .find_map(|k| carrying(k, visit_ids).map(|id| (k, waiting(k, &id), id)))
                .filter(|_| any_evidence)
        })
        // A consumer that runs after its producer is done; an ID a
        // service still at work also carried is context, not a hand-off.
        .or_else(|| {
            let held_open = |id: &IdRef| {
                candidates().any(|k| last_of[service[k]] > i && records[k].carries(&id.value))
            };
            candidates()
                .filter(|&k| last_of[service[k]] < i)
                .find_map(|k| carrying(k, novel).map(|id| (k, first_with(k, &id), id)))
                .filter(|(_, _, id)| any_evidence && !held_open(id))
        });
    found.map(|(k, why, via)| Arrow {
        kind: ArrowKind::Call,
        from: k,
        to: i,
        via,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn pairs(records: &[Record]) -> Vec<(ArrowKind, String, String)> {
        arrows(records)
            .iter()
            .map(|a| {
                (
                    a.kind,
                    records[a.from].service.clone(),
                    records[a.to].service.clone(),
                )
            })
            .collect()
    }

    fn call(from: &str, to: &str) -> (ArrowKind, String, String) {
        (ArrowKind::Call, from.into(), to.into())
    }

    fn reply(from: &str, to: &str) -> (ArrowKind, String, String) {
        (ArrowKind::Reply, from.into(), to.into())
    }

    /// A trace where every record carries the same ID: the structure of
    /// who waits on whom gives the calls, not adjacency.
    #[test]
    fn nested_calls_and_a_second_call_to_the_same_service() {
        let t = [("trace", "t1")];
        let records = [
            rec(1, 1, "frontend", &t, "a"),
            rec(2, 1, "checkout", &t, "b"),
            rec(3, 1, "cart", &t, "c"),
            rec(4, 2, "checkout", &t, "d"),
            rec(5, 1, "catalog", &t, "e"),
            rec(6, 3, "checkout", &t, "f"),
            rec(7, 2, "cart", &t, "g"),
            rec(8, 4, "checkout", &t, "h"),
            rec(9, 2, "frontend", &t, "i"),
            rec(10, 1, "recommend", &t, "j"),
            rec(11, 2, "catalog", &t, "k"),
            rec(12, 2, "recommend", &t, "l"),
            rec(13, 3, "catalog", &t, "m"),
            rec(14, 3, "frontend", &t, "n"),
        ];
        assert_eq!(
            pairs(&records),
            [
                call("frontend", "checkout"),
                call("checkout", "cart"),
                reply("cart", "checkout"),
                call("checkout", "catalog"),
                reply("catalog", "checkout"),
                call("checkout", "cart"),
                reply("cart", "checkout"),
                reply("checkout", "frontend"),
                call("frontend", "recommend"),
                call("recommend", "catalog"),
                reply("catalog", "recommend"),
                // recommend is done: the frontend is the one waiting.
                call("frontend", "catalog"),
                reply("catalog", "frontend"),
            ]
        );
    }

    /// Back-to-back requests from one caller log as one run of the callee;
    /// each span opened and closed before the next began, so each is a
    /// call. A server span logged once, then its child's, is one request;
    /// so is a run under a span that logs again later.
    #[test]
    fn back_to_back_requests_are_told_apart_by_their_spans() {
        let at = |span: &'static str| [("trace_id", "t1"), ("span_id", span)];
        let records = [
            rec(1, 1, "frontend", &at("f0"), "a"),
            rec(2, 1, "catalog", &at("c1"), "get"),
            rec(3, 2, "catalog", &at("c1"), "got"),
            rec(4, 3, "catalog", &at("c2"), "get"),
            rec(5, 4, "catalog", &at("c2"), "got"),
            rec(6, 5, "catalog", &at("c3"), "get"),
            rec(7, 6, "catalog", &at("c3"), "got"),
            rec(8, 2, "frontend", &at("f0"), "b"),
            rec(9, 1, "currency", &at("u1"), "server span, once"),
            rec(10, 2, "currency", &at("u2"), "its child"),
            rec(11, 3, "currency", &at("u2"), "its child done"),
            rec(12, 3, "frontend", &at("f0"), "c"),
        ];
        assert_eq!(
            pairs(&records),
            [
                call("frontend", "catalog"),
                call("frontend", "catalog"),
                call("frontend", "catalog"),
                reply("catalog", "frontend"),
                call("frontend", "currency"),
                reply("currency", "frontend"),
            ]
        );
    }

    /// A caller that times out while its callee works on, then retries
    /// under a new request id: no reply arrow for the timeout, no arrow
    /// back into the worker, a call for the retry.
    #[test]
    fn a_timeout_is_no_reply_and_a_late_worker_line_is_no_call() {
        let records = [
            rec(1, 1, "gateway", &[("request_id", "r1")], "proxy"),
            rec(
                2,
                1,
                "api",
                &[("request_id", "r1"), ("event_id", "e1")],
                "recv",
            ),
            rec(
                3,
                1,
                "worker",
                &[("event_id", "e1"), ("task_id", "k1")],
                "start",
            ),
            rec(4, 2, "gateway", &[("request_id", "r1")], "upstream timeout"),
            rec(5, 2, "gateway", &[("request_id", "r2")], "retry"),
            rec(
                6,
                2,
                "api",
                &[("request_id", "r2"), ("event_id", "e1")],
                "recv",
            ),
            rec(7, 2, "worker", &[("task_id", "k1")], "time limit"),
            rec(8, 3, "api", &[("event_id", "e1")], "gave up"),
        ];
        assert_eq!(
            pairs(&records),
            [
                call("gateway", "api"),
                call("api", "worker"),
                call("gateway", "api"),
            ]
        );
    }

    /// A queue consumer that runs after the producer finished: the
    /// consumer's first record with the message id follows the producer's.
    #[test]
    fn an_async_consumer_is_called_by_the_producer() {
        let records = [
            rec(
                1,
                1,
                "orders",
                &[("order_id", "o1"), ("msg_id", "m1")],
                "published",
            ),
            rec(2, 2, "orders", &[("order_id", "o1")], "done"),
            rec(9, 1, "notify", &[("msg_id", "m1")], "email sent"),
        ];
        assert_eq!(pairs(&records), [call("orders", "notify")]);
        // Without a shared ID, nothing.
        let records = [
            rec(1, 1, "orders", &[("order_id", "o1")], "done"),
            rec(2, 1, "notify", &[("msg_id", "m1")], "email sent"),
        ];
        assert!(arrows(&records).is_empty());
    }
}
