//! What a timeline entry did on the event's path: sent a request or a
//! message, received one, enqueued a job, or picked one up. Read from task
//! lifecycle states and from the words services use in their messages; an
//! entry that does none of these is a step inside one service.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::record::{Kind, Record, TaskState, task_state};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    Sent,
    Received,
    Enqueued,
    Picked,
}

impl Hop {
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Sent => "sent",
            Hop::Received => "received",
            Hop::Enqueued => "enqueued",
            Hop::Picked => "picked",
        }
    }
}

struct Words {
    enqueued: Regex,
    picked: Regex,
    sent: Regex,
    received: Regex,
}

fn words() -> &'static Words {
    static W: OnceLock<Words> = OnceLock::new();
    W.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("hop pattern compiles");
        Words {
            enqueued: re(r"(?i)\b(enqueued?|enqueuing|queued|scheduled|publish(ed|ing)?)\b"),
            picked: re(r"(?i)\b(task|job|message) (received|picked|claimed|dequeued|started)\b|\bconsum(ed|ing)\b"),
            sent: re(r"(?i)\b(proxying|forward(ed|ing)|sending|sent|calling|dispatch(ed|ing)|request(ed|ing)? to|delivered|upstream)\b"),
            received: re(r"(?i)\b(received|receiving|incoming|accepted|handling)\b|^(GET|POST|PUT|PATCH|DELETE) /"),
        }
    })
}

pub fn hop(r: &Record) -> Option<Hop> {
    if r.kind == Kind::TaskEvent {
        return match task_state(r) {
            Some(TaskState::Received | TaskState::Started) => Some(Hop::Picked),
            _ => None,
        };
    }
    if r.kind != Kind::Log {
        return None;
    }
    let w = words();
    let m = &r.message;
    if w.enqueued.is_match(m) {
        Some(Hop::Enqueued)
    } else if w.picked.is_match(m) {
        Some(Hop::Picked)
    } else if w.sent.is_match(m) {
        Some(Hop::Sent)
    } else if w.received.is_match(m) {
        Some(Hop::Received)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    #[test]
    fn common_words_classify() {
        let h = |m: &str| hop(&rec(0, 1, "svc", &[], m));
        assert_eq!(h("proxying to payments-api"), Some(Hop::Sent));
        assert_eq!(h("POST /v1/payments received"), Some(Hop::Received));
        assert_eq!(h("payment request received"), Some(Hop::Received));
        assert_eq!(
            h("enqueued task billing.charge_invoice"),
            Some(Hop::Enqueued)
        );
        assert_eq!(h("webhook delivered"), Some(Hop::Sent));
        assert_eq!(h("charge created"), None);
    }
}
