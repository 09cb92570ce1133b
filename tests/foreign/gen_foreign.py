#!/usr/bin/env python3
"""Foreign bundle generator: an "orders & payments" shop written by another team.

This is a second, independent generator of log bundles for hopline. It is kept
apart from hopline's defaults on purpose: it was written from a description of
how a different organisation logs, not from what hopline recognises. Never edit
it to match the tool; a change here must be motivated by realism.

    python3 tests/foreign/gen_foreign.py --events N --seed S --out DIR [--skew-ms MS]
    python3 tests/foreign/gen_foreign.py --out DIR --self-check      # check only
    python3 tests/foreign/gen_foreign.py --events N --seed S --out DIR --self-check

Python 3.11, standard library only, deterministic: everything random comes from
one ``random.Random(seed)``; the same arguments give byte-identical files.

The story
---------
A web shop on Kubernetes. A shopper submits a cart; ``checkout-web`` (Node,
OpenTelemetry log records) calls ``order-service`` (Go) synchronously with an
``Idempotency-Key`` header. order-service stores the key in Postgres, creates
the order (ULID id), authorises the amount by calling ``payment-gateway`` (Java,
Spring Boot) synchronously, schedules a Celery task
``billing.tasks.capture_payment`` with a 10 s countdown (the cancellation
window) and answers 201. A ``billing-worker`` replica (a StatefulSet of two,
``billing-worker-0`` and ``billing-worker-1``) picks the task up, guards it
with its own idempotency row ``capture:<task id>``, captures the charge at the
external acquirer (outside this bundle: no logs of its own) and publishes
``order.paid`` to RabbitMQ. ``notification-consumer`` (Go, logfmt) consumes
that message 0.2-5 s after the worker finished (queue latency, not clock
skew) and sends a receipt. A cancellation (DELETE from checkout-web) makes
order-service void the authorisation at payment-gateway, revoke the task
(a broadcast both replicas log) and publish ``order.cancelled``.
payment-gateway's clock runs ``--skew-ms`` ahead of everyone else; Postgres
timestamps are the database's own ``now()`` and are not skewed.

Logging habits of this organisation: order-service logs domain steps with a
request-scoped logger (``trace_id``, ``request_id`` on every line) and no
access log; payment-gateway logs each request when it arrives and once more
from its request filter when it answers; the worker logs its own steps with
structlog while Celery's text logger writes to the same stream; the consumer
writes one line per handled message; the team's Celery event exporter keeps
``type``, ``uuid``, ``hostname``, ``timestamp`` and the type-specific fields.

Planted anomalies (stable kind names, recorded in the truth):

* ``duplicate_side_effect`` + ``key_drift``: (a) checkout-web times out after
  8 s waiting for a slow authorisation and retries with a NEW idempotency key
  and the same body; order-service reuses the order for that cart but
  authorises and schedules capture again: one order, two charges, two rows in
  ``idempotency_keys`` with the same ``request_hash``. (b) order-service's
  broker publish is not confirmed, it re-publishes the capture task under a
  new task id: two tasks, two guard rows with the same ``request_hash``, two
  charges.
* ``key_conflict``: a browser tab re-submits a stale idempotency key with a
  different cart; order-service answers 422. The rejected request is its own
  event (primary id: its x-request-id), ``context_event`` names the innocent
  order that owns the key. The key is listed in the innocent event's ids only.
* ``partial_write`` (+ ``stuck_processing``): the capture succeeded at the
  acquirer, then the task hung updating the order and hit the hard time limit
  (SIGKILL) or was terminated by an operator (``revoke --terminate``); its
  guard row stays ``processing``. A third flavour hits the soft time limit,
  whose handler marks the row ``failed`` (partial_write only).
* ``retry_storm``: the card's issuer is unreachable (acquirer code 91), so
  this one payment's capture task is retried 7 times with back-off while other
  captures go through (one storm eventually succeeds, the other gives up).
* ``config_drift`` (instance level, in the meta file): billing-worker-1 came
  up with a different config map revision than billing-worker-0.
* ``clock_skew`` (instance level, in the meta file): payment-gateway.

Benign traps (never findings): ``safe_replay`` (same key, same body, stored
response replayed; part of the original event), ``cancelled_before_capture``
(order cancelled inside the countdown: authorisation voided, task revoked
before it started), ``retry_then_success`` (one connection reset before the
request reached the acquirer, then one capture), ``shared_customer`` (a
customer with 2-4 orders; ``customer_id`` is an identity field, not a
correlation id), and a hub: the settlement reconciliation job, one
``job_run_id`` whose lines name ~15 different orders.

House style (one dialect per service), flat layout, one file per pod
-------------------------------------------------------------------

checkout-web-5f7b9c8d6d-wq2lz.log
    OpenTelemetry-style JSON: ``timestamp`` (µs, ``+00:00``), ``severity``,
    ``body``, ``traceId``/``spanId``, ``attributes`` with semconv-ish names
    (``enduser.id``, ``app.cart.id``, ``app.order.id``,
    ``http.request.header.x-request-id``: [..],
    ``http.request.header.idempotency-key``: [..]), ``resource``.
order-service-7d9f8b6c4-x8k2p.log
    Go ``log/slog`` JSONHandler: ``time`` (RFC3339Nano, trailing zeros
    trimmed), ``level`` INFO/WARN, ``msg``, ``trace_id``, ``request_id``,
    groups ``order``/``payment``/``upstream``/``task``/``message``;
    durations as integer nanoseconds.
payment-gateway-6c9f7d8b5-r2m4t.log
    logstash-logback-encoder: ``@timestamp`` (ms, ``Z``, fraction omitted
    when it is .000, as ISO_OFFSET_DATE_TIME does), ``@version``,
    ``message``, ``logger_name``, ``thread_name``, ``level``; MDC at top
    level in camelCase (``traceId``, ``requestId``, ``orderId``,
    ``paymentId``, ``pspReference``, ``idempotencyKey``).
billing-worker-0.log, billing-worker-1.log
    structlog JSON (``event``, ``level``, ``logger``, ``timestamp`` last,
    ``json.dumps`` spacing) interleaved with Celery's own text lines
    ``[2025-03-11 14:02:05,123: INFO/MainProcess] Task ...[uuid] received``.
notification-consumer-84b6d9c7f-h5jzq.log
    logfmt: ``t=`` (ms, ``Z``) ``lvl=`` ``msg=`` ``msg_id=`` ``order_id=`` ...
celery-events.jsonl
    Celery event dicts as kept by the exporter: ``type``, ``uuid``,
    ``hostname`` (``celery@billing-worker-N``), ``timestamp`` (epoch float),
    ``name``, ``args``/``kwargs`` (repr strings), ``eta``, ``retries``,
    ``runtime``, ``exception``, ``traceback``,
    ``terminated``/``signum``/``expired``.
db/idempotency_keys.csv
    ``\\copy (SELECT ... ORDER BY created_at) TO ... CSV HEADER``: one row
    per key, final state; ``scope`` is ``orders.create`` (client keys) or
    ``billing.capture`` (the worker's guard rows); timestamps in Postgres
    text form (``2025-03-11 14:00:04.86+00``).

Truth format
------------
``.truth.jsonl`` (hidden: a directory ingest skips dot files), one object per
event in order of its first record::

    {"event": "<order ULID, or the x-request-id of a rejected request>",
     "ids": [every correlation id value that belongs only to this event:
             order, cart, payment, psp references, charge, request ids,
             idempotency keys, task ids, message ids, trace and span ids,
             provider message ids],
     "anomalies": [kinds], "trap": null | name, "context_event": null | id,
     "order": [[relative_path, 1-based line], ...]}   # TRUE time order,
                                                     # every line of the event

Customer ids and the hub's job_run_id are never in ``ids``. ``.truth-meta.json``
holds ``clock_offsets_ms`` (every instance), ``instance_findings``
(clock_skew, config_drift), ``hubs``, ``identity_fields``, ``hops`` (every
real cross-service call: ``kind`` http/enqueue/control/publish, ``call`` is
the caller's line, ``callee_first`` the callee's first line for that call),
``unowned_lines`` (startup, worker lifecycle, hub, CSV header, with reasons)
and a per-file description. Paths use ``/`` and are relative to the bundle.
"""

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys

# --------------------------------------------------------------------------
# Fixed cast
# --------------------------------------------------------------------------

POD_CW = "checkout-web-5f7b9c8d6d-wq2lz"
POD_OS = "order-service-7d9f8b6c4-x8k2p"
POD_PG = "payment-gateway-6c9f7d8b5-r2m4t"
POD_NC = "notification-consumer-84b6d9c7f-h5jzq"
PG_DB = "orders-postgres-0"

# key -> (relative path, service, instance, dialect)
FILES = {
    "cw": (POD_CW + ".log", "checkout-web", POD_CW, "otel-json"),
    "os": (POD_OS + ".log", "order-service", POD_OS, "go-slog-json"),
    "pg": (POD_PG + ".log", "payment-gateway", POD_PG, "logstash-logback-json"),
    "bw0": ("billing-worker-0.log", "billing-worker", "billing-worker-0",
            "structlog-json+celery-text"),
    "bw1": ("billing-worker-1.log", "billing-worker", "billing-worker-1",
            "structlog-json+celery-text"),
    "nc": (POD_NC + ".log", "notification-consumer", POD_NC, "logfmt"),
    "ce": ("celery-events.jsonl", "billing-worker", None, "celery-events-jsonl"),
    "db": ("db/idempotency_keys.csv", "orders-postgres", PG_DB, "postgres-csv"),
}
FILE_ORDER = ["cw", "os", "pg", "bw0", "bw1", "nc", "ce", "db"]

T0 = int(dt.datetime(2025, 3, 11, 14, 0, 0, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
COUNTDOWN_S = 10          # capture delay = cancellation window
CLIENT_TIMEOUT_MS = 8000  # checkout-web -> order-service
SOFT_LIMIT_S, HARD_LIMIT_S = 45, 60
CAPTURE_TASK = "billing.tasks.capture_payment"
RECON_TASK = "billing.tasks.reconcile_settlements"
MIN_GAP_US = 3000
ISSUER_EXC = "IssuerUnavailable('91 issuer or switch inoperative')"
CW_RES = {"service.name": "checkout-web", "service.instance.id": POD_CW}
CSV_COLUMNS = ["key", "scope", "request_hash", "status", "response_code",
               "resource_ref", "locked_by", "created_at", "updated_at"]
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# --------------------------------------------------------------------------
# Time formats, one per dialect
# --------------------------------------------------------------------------


def _dt(us):
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us)


def ts_otel(us):
    return _dt(us).strftime("%Y-%m-%dT%H:%M:%S") + ".%06d+00:00" % (us % 1_000_000)


def ts_go(us, sub_ns):
    frac = ("%06d%03d" % (us % 1_000_000, sub_ns)).rstrip("0")
    return _dt(us).strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


def ts_logback(us):
    ms = (us // 1000) % 1000
    base = _dt(us).strftime("%Y-%m-%dT%H:%M:%S")
    return base + ("" if ms == 0 else ".%03d" % ms) + "Z"   # ISO_OFFSET_DATE_TIME


def ts_struct(us):
    return _dt(us).strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1_000_000)


def ts_celery(us):
    return _dt(us).strftime("%Y-%m-%d %H:%M:%S") + ",%03d" % ((us // 1000) % 1000)


def ts_logfmt(us):
    return _dt(us).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % ((us // 1000) % 1000)


def ts_pg(us):
    frac = ("%06d" % (us % 1_000_000)).rstrip("0")
    return _dt(us).strftime("%Y-%m-%d %H:%M:%S") + ("." + frac if frac else "") + "+00"


def ts_py_iso(us):
    return _dt(us).isoformat()


def jc(d):
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def R(v):
    """Resolve late-bound values (durations computed from final record times)."""
    if callable(v):
        return R(v())
    if isinstance(v, dict):
        return {k: R(x) for k, x in v.items()}
    if isinstance(v, list):
        return [R(x) for x in v]
    return v


def logfmt_val(v):
    s = str(v).lower() if isinstance(v, bool) else str(v)
    if s == "" or any(c in s for c in ' ="'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


# --------------------------------------------------------------------------
# Records and events
# --------------------------------------------------------------------------


class Rec:
    __slots__ = ("f", "t", "fn", "ev", "seq", "sub", "delay", "path", "line", "reason")


class Event:
    def __init__(self, kind):
        self.kind = kind
        self.id = None
        self.ids = []
        self.anomalies = []
        self.trap = None
        self.context = None
        self.recs = []
        self.hops = []        # (kind, from, to, call_rec, callee_rec)
        self.customer = None
        self.captured = []    # (charge_id, order_id, amount, rec)

    def own(self, *vals):
        for v in vals:
            if v and v not in self.ids:
                self.ids.append(v)


class Order:
    pass


def ms_between(a, b):
    return lambda: round((b.t - a.t) / 1000)


def ns_between(a, b):
    return lambda: (b.t - a.t) * 1000 + 417


class Gen:
    def __init__(self, n, seed, skew_ms):
        self.n = n
        self.seed = seed
        self.rng = random.Random(seed)
        self.skew_us = skew_ms * 1000
        self.recs = []
        self.seq = 0
        self.events = []
        self.config_lines = {}
        self.hub = None
        self.offsets = {k: 0 for k in FILES}
        self.offsets["pg"] = self.skew_us

    # ---- id makers -------------------------------------------------------
    def uuid(self):
        b = bytearray(self.rng.getrandbits(128).to_bytes(16, "big"))
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        h = b.hex()
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def hexid(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def b62(self, n):
        return "".join(self.rng.choice(B62) for _ in range(n))

    def ulid(self, us):
        v = ((us // 1000) << 80) | self.rng.getrandbits(80)
        return "".join(CROCKFORD[(v >> (5 * i)) & 31] for i in range(25, -1, -1))

    def digits(self, n):
        return str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(n - 1))

    def ms(self, lo, hi):
        return int(self.rng.uniform(lo, hi) * 1000)

    # ---- record plumbing -------------------------------------------------
    def add(self, f, t, fn, ev=None, reason=None):
        r = Rec()
        r.f, r.t, r.fn, r.ev, r.seq = f, t, fn, ev, self.seq
        r.sub = self.rng.randrange(1000)
        # the exporter writes events in the order it receives them from the broker
        r.delay = self.rng.randint(800, 14000) if f == "ce" else 0
        r.reason = reason
        r.path = r.line = None
        self.seq += 1
        self.recs.append(r)
        if ev is not None:
            ev.recs.append(r)
        elif reason is None:
            raise ValueError("record without owner or reason")
        return r

    # checkout-web: OpenTelemetry log record
    def cw(self, E, t, sev, body, trace, span, attrs, reason=None):
        def fn(r, us):
            d = {"timestamp": ts_otel(us), "severity": sev, "body": body}
            if trace:
                d["traceId"], d["spanId"] = trace, span
            d["attributes"] = R(attrs)
            d["resource"] = CW_RES
            return jc(d)
        return self.add("cw", t, fn, E, reason)

    # order-service: Go slog JSONHandler; request-scoped logger.With(trace_id, request_id)
    def os_(self, E, t, level, msg, trace=None, rid=None, reason=None, **kv):
        def fn(r, us):
            d = {"time": ts_go(us, r.sub), "level": level, "msg": msg}
            if trace:
                d["trace_id"] = trace
            if rid:
                d["request_id"] = rid
            d.update(R(kv))
            return jc(d)
        return self.add("os", t, fn, E, reason)

    # payment-gateway: logstash-logback-encoder, MDC flattened at top level
    def pg(self, E, t, level, logger, thread, msg, reason=None, **kv):
        def fn(r, us):
            d = {"@timestamp": ts_logback(us), "@version": "1", "message": R(msg),
                 "logger_name": logger, "thread_name": thread, "level": level}
            d.update(R(kv))
            return jc(d)
        return self.add("pg", t, fn, E, reason)

    # billing-worker: structlog JSONRenderer (event dict order: ctx, kw, event, level, logger, timestamp)
    def bws(self, E, w, t, level, event, logger="billing.tasks", reason=None, **kv):
        def fn(r, us):
            d = dict(R(kv))
            d["event"] = event
            d["level"] = level
            d["logger"] = logger
            d["timestamp"] = ts_struct(us)
            return json.dumps(d)
        return self.add("bw%d" % w, t, fn, E, reason)

    # billing-worker: Celery's own text logging
    def bwp(self, E, w, t, level, proc, msg, reason=None):
        def fn(r, us):
            return "[%s: %s/%s] %s" % (ts_celery(us), level, proc, R(msg))
        return self.add("bw%d" % w, t, fn, E, reason)

    # celery-events.jsonl, written by the team's event exporter (compact json.dumps)
    def ce(self, E, w, t, typ, uid=None, reason=None, **kv):
        def fn(r, us):
            d = {"type": typ}
            if uid:
                d["uuid"] = uid
            d["hostname"] = "celery@billing-worker-%d" % w
            d["timestamp"] = us / 1e6
            d.update(R(kv))
            return jc(d)
        return self.add("ce", t, fn, E, reason)

    # notification-consumer: logfmt
    def nc(self, E, t, lvl, msg, reason=None, **kv):
        def fn(r, us):
            parts = ["t=" + ts_logfmt(us), "lvl=" + lvl, "msg=" + logfmt_val(msg)]
            parts += ["%s=%s" % (k, logfmt_val(R(v))) for k, v in kv.items()]
            return " ".join(parts)
        return self.add("nc", t, fn, E, reason)

    # idempotency_keys row (final state; its line is placed at created_at)
    def db(self, E, t, key, scope, request_hash, locked_by):
        row = {"key": key, "scope": scope, "request_hash": request_hash,
               "status": "processing", "response_code": None, "resource_ref": None,
               "locked_by": locked_by, "upd": None}

        def fn(r, us):
            upd = r.t if row["upd"] is None else row["upd"][0].t + row["upd"][1]
            vals = [row["key"], row["scope"], row["request_hash"], row["status"],
                    row["response_code"], row["resource_ref"], row["locked_by"],
                    ts_pg(r.t), ts_pg(upd)]
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in vals])
            return buf.getvalue().rstrip("\n")
        self.add("db", t, fn, E)
        return row

    def finish_row(self, row, status, code, ref, rec):
        row["status"], row["response_code"], row["resource_ref"] = status, code, ref
        row["locked_by"] = None
        row["upd"] = (rec, self.rng.randint(300, 2500))

    def hop(self, E, kind, frm, to, call, callee):
        E.hops.append((kind, frm, to, call, callee))

    # ---- fragments: checkout-web -> order-service ------------------------
    def new_order(self, E, t, cust):
        o = Order()
        o.cust = cust
        o.cart = "crt_" + self.b62(16)
        o.amount = self.rng.randint(8, 260) * 100 - self.rng.choice([1, 5, 10, 0])
        o.currency = "EUR"
        o.items = self.rng.randint(1, 6)
        o.key = self.uuid()
        o.trace = o.trace_now = self.hexid(32)
        o.hash = hashlib.sha256(("%s|%s|%d|%s" % (cust, o.cart, o.amount, o.items)).encode()).hexdigest()
        o.id = self.ulid(t + 12000)
        E.own(o.id, o.cart, o.key, o.trace)
        return o

    def cw_call(self, E, t, o, rid, span, key, attempt=None, method="POST", path="/v1/orders",
                body="creating order", cart=None):
        attrs = {"enduser.id": o.cust, "app.cart.id": cart or o.cart,
                 "http.request.method": method, "url.path": path,
                 "http.request.header.x-request-id": [rid]}
        if key:
            attrs["http.request.header.idempotency-key"] = [key]
        if attempt:
            attrs["app.retry.attempt"] = attempt
        return self.cw(E, t, "INFO", body, o.trace_now, span, attrs)

    # ---- fragment: order-service -> payment-gateway authorisation ---------
    def authorize(self, E, t, o, rid, key, lat):
        g = self.uuid()
        span = self.hexid(16)
        pay = "pay_" + self.b62(20)
        psp = self.digits(16)
        E.own(g, span, pay, psp)
        call = self.os_(E, t, "INFO", "authorizing payment", o.trace_now, rid,
                        order={"id": o.id, "customer_id": o.cust, "total_minor": o.amount,
                               "currency": o.currency},
                        upstream={"service": "payment-gateway", "request_id": g})
        t += self.ms(3, 9)
        th = "http-nio-8080-exec-%d" % self.rng.randint(1, 40)
        recv = self.pg(E, t, "INFO", "com.acme.paygw.api.AuthorizationController", th,
                       "Received authorization request", traceId=o.trace_now, spanId=span,
                       requestId=g, orderId=o.id, customerId=o.cust, amount=o.amount,
                       idempotencyKey=key)
        self.hop(E, "http", "order-service", "payment-gateway", call, recv)
        t += self.ms(*lat)
        holder = {}
        holder["r"] = self.pg(E, t, "INFO", "com.acme.paygw.web.RequestLogFilter", th,
                              lambda: "POST /v1/authorizations -> 201 (%d ms)" % ms_between(recv, holder["r"])(),
                              traceId=o.trace_now, spanId=span, requestId=g, orderId=o.id,
                              paymentId=pay, pspReference=psp)
        t += self.ms(3, 10)
        back = {}
        back["r"] = self.os_(E, t, "INFO", "payment authorized", o.trace_now, rid,
                             order={"id": o.id}, payment={"id": pay, "psp_reference": psp},
                             upstream={"request_id": g, "status": 201,
                                       "latency": ns_between(call, _Late(lambda: back["r"]))})
        return t, pay, call

    def schedule(self, E, t, o, rid):
        task = self.uuid()
        E.own(task)
        eta = t + COUNTDOWN_S * 1_000_000 + self.ms(0, 2)
        rec = self.os_(E, t, "INFO", "capture scheduled", o.trace_now, rid,
                       order={"id": o.id}, task={"id": task, "eta": ts_go(eta, 0)})
        return rec, task, eta

    def order_request(self, E, t, o, rid, key, lat=(40, 260), existing=False, double_publish=False):
        """order-service side of POST /v1/orders. Returns dict with times and records."""
        row = self.db(E, t, key, "orders.create", o.hash, POD_OS)
        t += self.ms(4, 15)
        first = None
        if existing:
            first = self.os_(E, t, "INFO", "order for cart already exists, continuing", o.trace_now,
                             rid, order={"id": o.id, "cart_id": o.cart}, idempotency_key=key)
            t += self.ms(3, 9)
        t, pay, call = self.authorize(E, t, o, rid, key, lat)
        first = first or call
        t += self.ms(3, 10)
        tasks = []
        enq, task, eta = self.schedule(E, t, o, rid)
        tasks.append((enq, task, eta, t))
        if double_publish:
            t += self.ms(2000, 2050)
            self.os_(E, t, "WARN", "broker publish not confirmed, re-publishing", o.trace_now, rid,
                     task={"id": task}, error="context deadline exceeded")
            t += self.ms(3, 9)
            enq2, task2, eta2 = self.schedule(E, t, o, rid)
            tasks.append((enq2, task2, eta2, t))
        self.finish_row(row, "completed", 201, o.id, tasks[-1][0])
        return {"t": t, "first": first, "pay": pay, "tasks": tasks}

    def cw_done(self, E, t, o, rid, span, start, status=201, body="order placed", extra=None):
        holder = {}
        attrs = {"app.order.id": o.id, "http.response.status_code": status,
                 "http.request.header.x-request-id": [rid],
                 "app.duration_ms": lambda: round((holder["r"].t - start.t) / 1000)}
        if extra:
            attrs.update(extra)
        holder["r"] = self.cw(E, t, "INFO", body, o.trace_now, span, attrs)
        return holder["r"]

    # ---- fragments: billing-worker ---------------------------------------
    def receive(self, E, w, t, task, o, pay, retries, eta):
        plain = self.bwp(E, w, t, "INFO", "MainProcess", "Task %s[%s] received" % (CAPTURE_TASK, task))
        t += self.ms(3, 6)
        self.ce(E, w, t, "task-received", task, name=CAPTURE_TASK,
                args="(%r, %r)" % (o.id, pay),
                kwargs="{'amount_minor': %d}" % o.amount,
                root_id=task, parent_id=None, retries=retries, eta=ts_py_iso(eta), expires=None)
        return plain, t

    def psp_capture(self, E, w, t, task, o, pay, attempt, outcome):
        """One capture attempt against the external acquirer (not a service of this
        bundle). outcome ok|91|reset. Returns (t, charge or None)."""
        t += self.ms(60, 420) if outcome == "ok" else self.ms(15, 120)
        if outcome == "reset":
            self.bws(E, w, t, "warning", "acquirer call failed", task_id=task, order_id=o.id,
                     attempt=attempt, error="ConnectionResetError(104, 'Connection reset by peer')")
            return t, None
        if outcome == "91":
            self.bws(E, w, t, "warning", "capture declined, issuer unavailable", task_id=task,
                     order_id=o.id, attempt=attempt, acquirer_code="91")
            return t, None
        ch = "ch_" + self.b62(24)
        E.own(ch)
        got = self.bws(E, w, t, "info", "charge captured", task_id=task, order_id=o.id,
                       payment_id=pay, charge_id=ch, attempt=attempt)
        E.captured.append((ch, o.id, o.amount, got))
        return t, ch

    def task_flow(self, E, o, pay, enq, task, eta, t_enq, mode):
        """Worker side of one capture task."""
        w = self.rng.randint(0, 1)
        proc = "ForkPoolWorker-%d" % self.rng.randint(1, 4)
        t = t_enq + self.ms(3, 15)
        plain, t = self.receive(E, w, t, task, o, pay, 0, eta)
        self.hop(E, "enqueue", "order-service", "billing-worker", enq, plain)
        if mode == "cancelled":
            return {"w": w, "eta": eta}
        t = max(t + MIN_GAP_US, eta + self.ms(1, 6))
        started = self.ce(E, w, t, "task-started", task)
        t += self.ms(3, 9)
        row = self.db(E, t, "capture:" + task, "billing.capture",
                      hashlib.sha256(("%s|%s|%d" % (o.id, pay, o.amount)).encode()).hexdigest(),
                      "celery@billing-worker-%d" % w)
        attempt = 1
        plan = {"ok": ["ok"], "reset": ["reset", "ok"], "storm_ok": ["91"] * 7 + ["ok"],
                "storm_fail": ["91"] * 8, "hard": ["ok"], "terminate": ["ok"],
                "soft": ["ok"]}[mode]
        ch = None
        for i, outcome in enumerate(plan):
            t, ch = self.psp_capture(E, w, t, task, o, pay, attempt, outcome)
            if outcome == "ok" or i == len(plan) - 1:
                break
            # retry: the task re-publishes itself with a countdown; any replica may get it
            if outcome == "reset":
                countdown, exc = 2, "ConnectionResetError(104, 'Connection reset by peer')"
            else:
                countdown = self.rng.randint(max(1, 2 ** i // 2), min(2 ** (i + 1), 64))
                exc = ISSUER_EXC
            t += self.ms(3, 8)
            msg = "Retry in %ds: %s" % (countdown, exc)
            self.bwp(E, w, t, "INFO", proc, "Task %s[%s] retry: %s" % (CAPTURE_TASK, task, msg))
            t += self.ms(3, 6)
            self.ce(E, w, t, "task-retried", task, exception=msg,
                    traceback="Traceback (most recent call last):\n  ...\ncelery.exceptions.Retry: %s\n" % msg)
            attempt += 1
            w = self.rng.randint(0, 1)
            proc = "ForkPoolWorker-%d" % self.rng.randint(1, 4)
            new_eta = t + countdown * 1_000_000
            t += self.ms(4, 25)
            _, t = self.receive(E, w, t, task, o, pay, attempt - 1, new_eta)
            t = max(t + MIN_GAP_US, new_eta + self.ms(1, 6))
            started = self.ce(E, w, t, "task-started", task)
        t += self.ms(3, 12)
        if mode in ("hard", "terminate", "soft"):
            self.bws(E, w, t, "info", "marking order paid", task_id=task, order_id=o.id)
            if mode == "hard":
                t = started.t + HARD_LIMIT_S * 1_000_000 + self.ms(1, 30)
                self.bwp(E, w, t, "ERROR", "MainProcess",
                         "Hard time limit (%ds) exceeded for %s[%s]" % (HARD_LIMIT_S, CAPTURE_TASK, task))
                t += self.ms(3, 9)
                self.bwp(E, w, t, "ERROR", "MainProcess",
                         "Process '%s' pid:%d exited with 'signal 9 (SIGKILL)'" % (
                             proc, self.rng.randint(14, 90)))
                t += self.ms(3, 6)
                self.ce(E, w, t, "task-failed", task, exception="TimeLimitExceeded(%d,)" % HARD_LIMIT_S,
                        traceback="Traceback (most recent call last):\n  ...\n"
                                  "billiard.exceptions.TimeLimitExceeded: TimeLimitExceeded(%d,)\n" % HARD_LIMIT_S)
            elif mode == "terminate":
                t2 = started.t + self.ms(22000, 40000)
                for ww in (0, 1):
                    self.bwp(E, ww, t2, "INFO", "MainProcess", "Tasks flagged as revoked: %s" % task)
                    t2 += self.ms(3, 15)
                t = t2 + self.ms(3, 8)
                self.bwp(E, w, t, "INFO", "MainProcess", "Terminating %s (Signals.SIGTERM)" % task)
                t += self.ms(3, 9)
                self.ce(E, w, t, "task-revoked", task, terminated=True, signum=15, expired=False)
            else:
                t = started.t + SOFT_LIMIT_S * 1_000_000 + self.ms(1, 30)
                mark = self.bws(E, w, t, "error", "soft time limit hit after capture, guard released",
                                task_id=task, order_id=o.id, charge_id=ch, guard_status="failed")
                self.finish_row(row, "failed", None, None, mark)
                t += self.ms(3, 8)
                self.bwp(E, w, t, "ERROR", proc,
                         "Task %s[%s] raised unexpected: SoftTimeLimitExceeded()" % (CAPTURE_TASK, task))
                t += self.ms(3, 6)
                self.ce(E, w, t, "task-failed", task, exception="SoftTimeLimitExceeded()",
                        traceback="Traceback (most recent call last):\n  ...\n"
                                  "billiard.exceptions.SoftTimeLimitExceeded: SoftTimeLimitExceeded()\n")
            return {"t": t, "publish": None}
        if ch is None:   # the storm that gave up
            exc = ISSUER_EXC
            r = self.bwp(E, w, t, "ERROR", proc, "Task %s[%s] raised unexpected: %s" % (CAPTURE_TASK, task, exc))
            self.finish_row(row, "failed", 502, None, r)
            t += self.ms(3, 6)
            self.ce(E, w, t, "task-failed", task, exception=exc,
                    traceback="Traceback (most recent call last):\n  ...\n"
                              "billing.acquirer.IssuerUnavailable: 91 issuer or switch inoperative\n")
            return {"t": t, "publish": None}
        self.finish_row(row, "completed", 201, ch, E.recs[-1])
        msg_id = self.uuid()
        E.own(msg_id)
        pub = self.bws(E, w, t, "info", "event published", task_id=task, order_id=o.id,
                       routing_key="order.paid", message_id=msg_id)
        t += self.ms(3, 10)
        holder = {}
        noise = self.rng.random() * 1e-7

        def rt():
            return (holder["s"].t - started.t) / 1e6 + noise
        holder["s"] = self.bwp(E, w, t, "INFO", proc,
                               lambda: "Task %s[%s] succeeded in %rs: None" % (CAPTURE_TASK, task, rt()))
        t += self.ms(3, 6)
        self.ce(E, w, t, "task-succeeded", task, result="None", runtime=rt)
        return {"t": t, "publish": (pub, msg_id, "order.paid", "payment_receipt")}

    def notify(self, E, t_producer_done, pub, o):
        call, msg_id, rk, template = pub
        t = t_producer_done + self.ms(200, 5000)
        prov = self.uuid()
        E.own(prov)
        lag = (t - call.t) // 1000
        first = self.nc(E, t, "info", "email sent", routing_key=rk, msg_id=msg_id,
                        order_id=o.id, customer_id=o.cust, template=template,
                        provider_msg_id=prov, queue_lag_ms=lag)
        self.hop(E, "publish", FILES[call.f][1], "notification-consumer", call, first)
        return t

    # ---- whole events ------------------------------------------------------
    def ev_order(self, E, t, cust, mode="ok", replay=False, cancel=False, dup=None):
        o = self.new_order(E, t, cust)
        E.id = o.id
        E.order = o
        rid, span = self.uuid(), self.hexid(16)
        E.own(rid, span)
        if dup == "client":
            return self.ev_client_retry(E, t, o, rid, span)
        call = self.cw_call(E, t, o, rid, span, o.key)
        t += self.ms(3, 9)
        res = self.order_request(E, t, o, rid, o.key, double_publish=(dup == "publish"))
        self.hop(E, "http", "checkout-web", "order-service", call, res["first"])
        t = res["t"] + self.ms(3, 10)
        self.cw_done(E, t, o, rid, span, call)
        o.t_cw_done = t
        for enq, task, eta, t_enq in res["tasks"]:
            out = self.task_flow(E, o, res["pay"], enq, task, eta, t_enq,
                                 "cancelled" if cancel else mode)
            if cancel:
                self.ev_cancel(E, o, res["pay"], task, out["w"], out["eta"], t)
            elif out["publish"]:
                self.notify(E, out["t"], out["publish"], o)
        if replay:
            self.ev_replay(E, o, t + self.ms(300, 2500))

    def ev_client_retry(self, E, t, o, rid, span):
        call1 = self.cw_call(E, t, o, rid, span, o.key)
        res1 = self.order_request(E, t + self.ms(3, 9), o, rid, o.key, lat=(8700, 10500))
        self.hop(E, "http", "checkout-web", "order-service", call1, res1["first"])
        tt = t + CLIENT_TIMEOUT_MS * 1000 + self.ms(0, 4)
        self.cw(E, tt, "ERROR", "order-service call failed", o.trace, span,
                {"error.type": "TimeoutError", "exception.message":
                 "request timed out after %dms" % CLIENT_TIMEOUT_MS,
                 "http.request.header.x-request-id": [rid], "app.retry.will_retry": True})
        tt += self.ms(3, 25)
        key2, rid2, span2 = self.uuid(), self.uuid(), self.hexid(16)
        E.own(key2, rid2, span2)
        call2 = self.cw_call(E, tt, o, rid2, span2, key2, attempt=2)
        res2 = self.order_request(E, tt + self.ms(3, 9), o, rid2, key2, existing=True)
        self.hop(E, "http", "checkout-web", "order-service", call2, res2["first"])
        t = res2["t"] + self.ms(3, 10)
        self.cw_done(E, t, o, rid2, span2, call2, extra={"app.retry.attempt": 2})
        o.t_cw_done = t
        for res in (res1, res2):
            for enq, task, eta, t_enq in res["tasks"]:
                out = self.task_flow(E, o, res["pay"], enq, task, eta, t_enq, "ok")
                self.notify(E, out["t"], out["publish"], o)

    def ev_replay(self, E, o, t):
        o.trace_now = self.hexid(32)
        rid, span = self.uuid(), self.hexid(16)
        E.own(o.trace_now, rid, span)
        call = self.cw_call(E, t, o, rid, span, o.key)
        t += self.ms(3, 9)
        first = self.os_(E, t, "INFO", "replaying stored response", o.trace_now, rid,
                         idempotency_key=o.key, order={"id": o.id}, stored_status=201)
        self.hop(E, "http", "checkout-web", "order-service", call, first)
        t += self.ms(3, 9)
        self.cw_done(E, t, o, rid, span, call)
        o.trace_now = o.trace

    def ev_cancel(self, E, o, pay, task, w, eta, t_done):
        t = t_done + self.ms(1500, 6000)
        o.trace_now = self.hexid(32)
        rid, span = self.uuid(), self.hexid(16)
        E.own(o.trace_now, rid, span)
        call = self.cw_call(E, t, o, rid, span, None, method="DELETE",
                            path="/v1/orders/" + o.id, body="cancelling order")
        t += self.ms(4, 12)
        g, gspan = self.uuid(), self.hexid(16)
        E.own(g, gspan)
        vcall = self.os_(E, t, "INFO", "voiding authorization", o.trace_now, rid, order={"id": o.id},
                         payment={"id": pay}, upstream={"service": "payment-gateway", "request_id": g})
        self.hop(E, "http", "checkout-web", "order-service", call, vcall)
        t += self.ms(3, 9)
        th = "http-nio-8080-exec-%d" % self.rng.randint(1, 40)
        recv = self.pg(E, t, "INFO", "com.acme.paygw.api.AuthorizationController", th,
                       "Received void request", traceId=o.trace_now, spanId=gspan, requestId=g,
                       paymentId=pay)
        self.hop(E, "http", "order-service", "payment-gateway", vcall, recv)
        t += self.ms(30, 160)
        holder = {}
        holder["r"] = self.pg(E, t, "INFO", "com.acme.paygw.web.RequestLogFilter", th,
                              lambda: "POST /v1/payments/%s/void -> 200 (%d ms)" % (
                                  pay, ms_between(recv, holder["r"])()),
                              traceId=o.trace_now, spanId=gspan, requestId=g, paymentId=pay)
        t += self.ms(3, 9)
        self.os_(E, t, "INFO", "authorization voided", o.trace_now, rid,
                 payment={"id": pay, "status": "voided"}, upstream={"request_id": g, "status": 200})
        t += self.ms(3, 8)
        rv = self.os_(E, t, "INFO", "revoking capture task", o.trace_now, rid, task={"id": task})
        t2 = t + self.ms(3, 12)
        firsts = []
        for ww in (0, 1):
            firsts.append(self.bwp(E, ww, t2, "INFO", "MainProcess", "Tasks flagged as revoked: %s" % task))
            t2 += self.ms(3, 14)
        self.hop(E, "control", "order-service", "billing-worker", rv, firsts[0])
        t += self.ms(5, 15)
        msg_id = self.uuid()
        E.own(msg_id)
        pub = self.os_(E, t, "INFO", "order cancelled", o.trace_now, rid, order={"id": o.id},
                       message={"routing_key": "order.cancelled", "id": msg_id})
        producer_done = t
        t += self.ms(3, 9)
        self.cw_done(E, t, o, rid, span, call, status=200, body="order cancelled")
        # the ETA passes: the replica holding the message drops it
        te = max(eta + self.ms(1, 5), t + MIN_GAP_US)
        self.bwp(E, w, te, "INFO", "MainProcess", "Discarding revoked task: %s[%s]" % (CAPTURE_TASK, task))
        te += self.ms(3, 6)
        self.ce(E, w, te, "task-revoked", task, terminated=False, signum=None, expired=False)
        self.notify(E, producer_done, (pub, msg_id, "order.cancelled", "order_cancelled"), o)
        o.trace_now = o.trace

    def ev_conflict(self, E, ctx_ev, t):
        co = ctx_ev.order
        o = Order()
        o.cust = co.cust
        o.cart = "crt_" + self.b62(16)
        o.trace = o.trace_now = self.hexid(32)
        rid, span = self.uuid(), self.hexid(16)
        E.id = rid
        E.own(rid, o.trace, span, o.cart)
        E.context = ctx_ev.id
        E.customer = co.cust
        call = self.cw_call(E, t, o, rid, span, co.key)
        t += self.ms(3, 9)
        new_hash = hashlib.sha256(("%s|%s" % (o.cust, o.cart)).encode()).hexdigest()
        first = self.os_(E, t, "WARN", "idempotency key reused with a different request body",
                         o.trace, rid, idempotency_key=co.key,
                         request_hash={"stored": co.hash[:16], "received": new_hash[:16]})
        self.hop(E, "http", "checkout-web", "order-service", call, first)
        t += self.ms(3, 9)
        rej = {}
        rej["r"] = self.cw(E, t, "WARN", "order rejected", o.trace, span,
                           {"http.response.status_code": 422,
                            "app.error.code": "idempotency_key_mismatch",
                            "http.request.header.x-request-id": [rid],
                            "app.duration_ms": ms_between(call, _Late(lambda: rej["r"]))})
        return t

    # ---- instance-level lines --------------------------------------------
    def startup(self):
        t = T0 - self.ms(200_000, 900_000)
        self.pg(None, t, "INFO", "com.acme.paygw.PaymentGatewayApplication", "main",
                "Started PaymentGatewayApplication in 7.412 seconds (process running for 8.03)",
                reason="startup")
        t = T0 - self.ms(100_000, 600_000)
        self.os_(None, t, "INFO", "order-service starting", reason="startup", version="1.42.0",
                 go="go1.22.1", config={"http_addr": ":8080",
                                        "gateway_url": "http://payment-gateway.payments.svc:8080",
                                        "gateway_timeout": "12s", "capture_delay": "%ds" % COUNTDOWN_S,
                                        "broker": "redis://redis-master.shop.svc:6379/0"})
        t = T0 - self.ms(60_000, 300_000)
        self.cw(None, t, "INFO", "checkout-web listening", None, None,
                {"server.port": 3000, "process.runtime.version": "20.11.1",
                 "app.order_service.timeout_ms": CLIENT_TIMEOUT_MS}, reason="startup")
        t = T0 - self.ms(30_000, 200_000)
        self.nc(None, t, "info", "consumer started", reason="startup",
                queue="notifications.order-events", prefetch=20, version="0.9.4")
        confs = [
            ("a41c9e07", "81231", {"acquirer_timeout_s": 10, "worker_prefetch_multiplier": 1,
                                  "task_acks_late": True, "task_soft_time_limit": SOFT_LIMIT_S,
                                  "task_time_limit": HARD_LIMIT_S, "broker_visibility_timeout": 3600}),
            ("5d02b7f3", "80977", {"acquirer_timeout_s": 30, "worker_prefetch_multiplier": 4,
                                  "task_acks_late": False, "task_soft_time_limit": SOFT_LIMIT_S,
                                  "task_time_limit": HARD_LIMIT_S, "broker_visibility_timeout": 43200}),
        ]
        for w, start in ((0, T0 - self.ms(400_000, 800_000)), (1, T0 - self.ms(20_000, 90_000))):
            h, rv, conf = confs[w]
            t = start
            r = self.bws(None, w, t, "info", "worker config loaded", logger="billing.bootstrap",
                         reason="startup", config_hash=h, config_source="configmap/billing-worker-config@rv=" + rv,
                         image="registry.internal/shop/billing-worker:2.14.3", settings=conf)
            self.config_lines[w] = r
            t += self.ms(900, 2500)
            self.ce(None, w, t, "worker-online", reason="worker-lifecycle", freq=2.0,
                    sw_ident="py-celery", sw_ver="5.3.6", sw_sys="Linux")
            t += self.ms(3, 20)
            self.bwp(None, w, t, "INFO", "MainProcess", "celery@billing-worker-%d ready." % w,
                     reason="worker-lifecycle")

    def reconcile(self):
        elig = []
        for E in self.events:
            if len(E.captured) == 1 and not E.anomalies and E.kind in ("normal", "replay", "reset"):
                elig.append((E.captured[0][3].t, E))
        elig.sort(key=lambda x: x[0])
        if not elig:
            return
        k = min(len(elig), max(1, round(self.n * 0.37)))
        pivot = elig[k - 1][0]
        t = pivot + self.ms(4000, 15000)
        pool = [E for tc, E in elig if tc < t - 1_000_000]
        touched = self.rng.sample(pool, min(15, len(pool)))
        touched.sort(key=lambda E: E.captured[0][3].t)
        w = 1
        task = self.uuid()
        run = "recon-%s-%s" % (_dt(t).strftime("%Y%m%dT%H%M"), self.hexid(6))
        sdate = _dt(t).strftime("%Y-%m-%d")
        self.bwp(None, w, t, "INFO", "MainProcess", "Task %s[%s] received" % (RECON_TASK, task), reason="hub")
        t += self.ms(3, 6)
        self.ce(None, w, t, "task-received", task, reason="hub", name=RECON_TASK, args="()",
                kwargs="{'report_date': %r}" % sdate, root_id=task, parent_id=None, retries=0,
                eta=None, expires=None)
        t += self.ms(3, 8)
        st = self.ce(None, w, t, "task-started", task, reason="hub")
        t += self.ms(3, 10)
        self.bws(None, w, t, "info", "settlement reconciliation started", logger="billing.reconcile",
                 reason="hub", job_run_id=run, report_date=sdate, source="acquirer-intraday-report")
        for E in touched:
            ch, oid, amt, _ = E.captured[0]
            t += self.ms(3, 14)
            self.bws(None, w, t, "info", "settlement line matched", logger="billing.reconcile",
                     reason="hub", job_run_id=run, order_id=oid, charge_id=ch, amount_minor=amt)
        t += self.ms(3, 12)
        self.bws(None, w, t, "info", "settlement reconciliation finished", logger="billing.reconcile",
                 reason="hub", job_run_id=run, matched=len(touched), unmatched=0)
        t += self.ms(3, 8)
        end = t
        rt = (end - st.t) / 1e6 + self.rng.random() * 1e-7
        self.bwp(None, w, t, "INFO", "ForkPoolWorker-2",
                 "Task %s[%s] succeeded in %rs: {'matched': %d}" % (RECON_TASK, task, rt, len(touched)),
                 reason="hub")
        t += self.ms(3, 6)
        self.ce(None, w, t, "task-succeeded", task, reason="hub",
                result="{'matched': %d}" % len(touched), runtime=rt)
        self.hub = {"field": "job_run_id", "value": run, "touches": len(touched),
                    "events": [E.id for E in touched], "task_id": task,
                    "service": "billing-worker", "instance": "billing-worker-%d" % w}

    # ---- plan ---------------------------------------------------------------
    def plan(self):
        n = self.n
        k = max(1, round(n / 20))
        specials = []
        for i in range(k):
            specials.append(("dup", ["client", "publish"][i % 3 == 1]))
        for i in range(k):
            specials.append(("partial", ["hard", "terminate", "soft"][i % 3]))
        for i in range(max(1, round(n / 30))):
            specials.append(("storm", ["storm_ok", "storm_fail"][i % 2]))
        specials += [("conflict", None)] * k + [("replay", None)] * k
        specials += [("cancel", None)] * k + [("reset", None)] * k
        # interleave kinds so truncation keeps a mix
        order = []
        buckets = {}
        for s in specials:
            buckets.setdefault(s[0], []).append(s)
        while any(buckets.values()):
            for key in list(buckets):
                if buckets[key]:
                    order.append(buckets[key].pop(0))
        order = order[: n // 2]
        n_conf = sum(1 for s in order if s[0] == "conflict")
        slots = [s for s in order if s[0] != "conflict"]
        slots += [("normal", None)] * (n - len(order))
        self.rng.shuffle(slots)
        return slots, n_conf

    def customers(self, slots):
        normal_idx = [i for i, s in enumerate(slots) if s[0] == "normal"]
        self.rng.shuffle(normal_idx)
        custs = [None] * len(slots)
        i = 0
        while i < len(normal_idx):
            size = self.rng.choices([1, 2, 3, 4], weights=[70, 18, 8, 4])[0]
            c = "cus_" + self.b62(14)
            for j in normal_idx[i:i + size]:
                custs[j] = c
            i += size
        for j, s in enumerate(slots):
            if custs[j] is None:
                custs[j] = "cus_" + self.b62(14)
        return custs

    def generate(self):
        slots, n_conf = self.plan()
        custs = self.customers(slots)
        self.startup()
        t = T0 + self.ms(2000, 6000)
        for (kind, sub), cust in zip(slots, custs):
            E = Event(kind)
            E.customer = cust
            if kind == "normal":
                self.ev_order(E, t, cust)
            elif kind == "replay":
                self.ev_order(E, t, cust, replay=True)
                E.trap = "safe_replay"
            elif kind == "cancel":
                self.ev_order(E, t, cust, cancel=True)
                E.trap = "cancelled_before_capture"
            elif kind == "reset":
                self.ev_order(E, t, cust, mode="reset")
                E.trap = "retry_then_success"
            elif kind == "storm":
                self.ev_order(E, t, cust, mode=sub)
                E.anomalies = ["retry_storm"]
            elif kind == "partial":
                self.ev_order(E, t, cust, mode=sub)
                E.anomalies = ["partial_write"] + (["stuck_processing"] if sub != "soft" else [])
            elif kind == "dup":
                self.ev_order(E, t, cust, dup=sub)
                E.anomalies = ["duplicate_side_effect", "key_drift"]
            self.events.append(E)
            t += max(150_000, int(self.rng.expovariate(1 / 4.0) * 1_000_000))
        # key conflicts: a stale key re-submitted for another cart by the same customer
        ctx_pool = [E for E in self.events if E.kind == "normal"]
        ctxs = self.rng.sample(ctx_pool, min(n_conf, len(ctx_pool)))
        for ce_ in ctxs:
            E = Event("conflict")
            E.anomalies = ["key_conflict"]
            self.ev_conflict(E, ce_, ce_.order.t_cw_done + self.ms(4000, 40000))
            self.events.append(E)
        # identity: customers with several events
        count = {}
        for E in self.events:
            count[E.customer] = count.get(E.customer, 0) + 1
        for E in self.events:
            if E.trap is None and not E.anomalies and count[E.customer] > 1:
                E.trap = "shared_customer"
        self.reconcile()

    # ---- output -------------------------------------------------------------
    def finalize(self):
        for E in self.events:
            rs = sorted(E.recs, key=lambda r: (r.t, r.seq))
            for a, b in zip(rs, rs[1:]):
                if b.t < a.t + MIN_GAP_US:
                    b.t = a.t + MIN_GAP_US
            E.recs = rs
        self.events.sort(key=lambda E: (E.recs[0].t, E.recs[0].seq))
        lines = {}
        for f in FILE_ORDER:
            rs = sorted((r for r in self.recs if r.f == f),
                        key=lambda r: (r.t + self.offsets[f] + r.delay, r.seq))
            base = 1 if f == "db" else 0
            for i, r in enumerate(rs):
                r.path = FILES[f][0]
                r.line = i + 1 + base
            lines[f] = rs
        out = {}
        for f in FILE_ORDER:
            text = []
            if f == "db":
                text.append(",".join(CSV_COLUMNS))
            for r in lines[f]:
                text.append(r.fn(r, r.t + self.offsets[f]))
            out[FILES[f][0]] = "\n".join(text) + "\n"
        return out, lines

    def write(self, outdir):
        files, lines = self.finalize()
        for rel, text in files.items():
            p = os.path.join(outdir, *rel.split("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        with open(os.path.join(outdir, ".truth.jsonl"), "w", encoding="utf-8", newline="\n") as fh:
            for E in self.events:
                fh.write(jc({"event": E.id, "ids": E.ids, "anomalies": E.anomalies, "trap": E.trap,
                             "context_event": E.context,
                             "order": [[r.path, r.line] for r in E.recs]}) + "\n")
        pos = lambda r: [r.path, r.line]  # noqa: E731
        unowned = {}
        for f in FILE_ORDER:
            for r in lines[f]:
                if r.ev is None:
                    unowned.setdefault(r.reason, []).append(pos(r))
        unowned_list = [{"reason": "csv-header", "lines": [[FILES["db"][0], 1]]}]
        for reason in ("startup", "worker-lifecycle", "hub"):
            if reason in unowned:
                unowned_list.append({"reason": reason, "lines": unowned[reason]})
        findings = []
        if self.skew_us:
            findings.append({"kind": "clock_skew", "service": "payment-gateway", "instance": POD_PG,
                             "offset_ms": self.skew_us // 1000})
        findings.append({"kind": "config_drift", "service": "billing-worker",
                         "instances": ["billing-worker-0", "billing-worker-1"],
                         "odd_instance": "billing-worker-1",
                         "lines": [pos(self.config_lines[0]), pos(self.config_lines[1])]})
        hops = []
        for E in self.events:
            for kind, frm, to, call, callee in E.hops:
                hops.append({"kind": kind, "from_service": frm, "to_service": to, "event": E.id,
                             "call": pos(call), "callee_first": pos(callee)})
        anomaly_counts, trap_counts = {}, {}
        for E in self.events:
            for a in E.anomalies:
                anomaly_counts[a] = anomaly_counts.get(a, 0) + 1
            if E.trap:
                trap_counts[E.trap] = trap_counts.get(E.trap, 0) + 1
        offsets = {FILES[f][2]: self.offsets[f] // 1000 for f in FILE_ORDER if FILES[f][2]}
        meta = {
            "generator": "tests/foreign/gen_foreign.py",
            "args": {"events": self.n, "seed": self.seed, "skew_ms": self.skew_us // 1000},
            "files": {FILES[f][0]: {"service": FILES[f][1], "instance": FILES[f][2],
                                    "dialect": FILES[f][3],
                                    **({"instance_field": "hostname"} if f == "ce" else {})}
                      for f in FILE_ORDER},
            "clock_offsets_ms": offsets,
            "instance_findings": findings,
            "hubs": [self.hub] if self.hub else [],
            "identity_fields": ["customer_id", "customerId", "enduser.id"],
            "identity_field_paths": {"checkout-web": "attributes.enduser.id",
                                     "order-service": "order.customer_id",
                                     "payment-gateway": "customerId",
                                     "notification-consumer": "customer_id"},
            "anomaly_counts": anomaly_counts,
            "trap_counts": trap_counts,
            "hops": hops,
            "unowned_lines": unowned_list,
        }
        with open(os.path.join(outdir, ".truth-meta.json"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(dump_meta(meta))
        return meta


def dump_meta(meta):
    """JSON, one top-level key per line and one list item per line (diff-friendly, small)."""
    out = []
    for k, v in meta.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            body = "[\n  " + ",\n  ".join(jc(x) for x in v) + "\n ]"
        else:
            body = jc(v)
        out.append(" %s: %s" % (jc(k), body))
    return "{\n" + ",\n".join(out) + "\n}\n"


class _Late:
    """A stand-in record whose time is looked up when rendering."""

    def __init__(self, get):
        self._get = get

    @property
    def t(self):
        return self._get().t


# --------------------------------------------------------------------------
# Self-check: reload the bundle from disk only
# --------------------------------------------------------------------------


def parse_time_us(dialect, line):
    def iso(s):
        s = s.replace("Z", "+00:00")
        if s.endswith("+00"):
            s += ":00"
        if "." in s:
            head, rest = s.split(".", 1)
            n = 0
            while n < len(rest) and rest[n].isdigit():
                n += 1
            digits, tz = rest[:n], rest[n:]
            s = head + "." + (digits + "000000")[:6] + tz
        d = dt.datetime.fromisoformat(s)
        return (d - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)

    if dialect == "otel-json":
        return iso(json.loads(line)["timestamp"])
    if dialect == "go-slog-json":
        return iso(json.loads(line)["time"])
    if dialect == "logstash-logback-json":
        return iso(json.loads(line)["@timestamp"])
    if dialect == "structlog-json+celery-text":
        if line.startswith("{"):
            return iso(json.loads(line)["timestamp"])
        stamp = line[1:line.index(": ")]
        return iso(stamp.replace(" ", "T").replace(",", ".") + "+00:00")
    if dialect == "celery-events-jsonl":
        return round(json.loads(line)["timestamp"] * 1e6)
    if dialect == "logfmt":
        return iso(line.split(" ", 1)[0][2:])
    if dialect == "postgres-csv":
        row = next(csv.reader([line]))
        return iso(row[CSV_COLUMNS.index("created_at")].replace(" ", "T"))
    raise ValueError(dialect)


def self_check(outdir):
    problems = []
    meta = json.load(open(os.path.join(outdir, ".truth-meta.json"), encoding="utf-8"))
    truth = [json.loads(l) for l in open(os.path.join(outdir, ".truth.jsonl"), encoding="utf-8")]
    content = {}
    for rel in meta["files"]:
        with open(os.path.join(outdir, *rel.split("/")), encoding="utf-8") as fh:
            content[rel] = fh.read().split("\n")[:-1]
    on_disk = []
    for root, dirs, names in os.walk(outdir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for nm in names:
            if not nm.startswith("."):
                on_disk.append(os.path.relpath(os.path.join(root, nm), outdir).replace(os.sep, "/"))
    for rel in sorted(set(on_disk) - set(content)):
        problems.append("unexpected file in bundle: %s" % rel)
    owner = {}

    def claim(p, l, who):
        if p not in content or not 1 <= l <= len(content[p]):
            problems.append("%s points at missing line %s:%s" % (who, p, l))
            return
        if (p, l) in owner:
            problems.append("%s:%s claimed by %s and %s" % (p, l, owner[(p, l)], who))
        owner[(p, l)] = who

    for ev in truth:
        for p, l in ev["order"]:
            claim(p, l, ev["event"])
    for group in meta["unowned_lines"]:
        for p, l in group["lines"]:
            claim(p, l, "<%s>" % group["reason"])
    for p, ls in content.items():
        for i in range(1, len(ls) + 1):
            if (p, i) not in owner:
                problems.append("line %s:%d is claimed by nobody" % (p, i))
    # true time order
    off = meta["clock_offsets_ms"]
    gaps = []

    def true_us(p, l):
        f = meta["files"][p]
        us = parse_time_us(f["dialect"], content[p][l - 1])
        return us - off.get(f["instance"], 0) * 1000 if f["instance"] else us

    events = {ev["event"]: ev for ev in truth}
    for ev in truth:
        prev = None
        for p, l in ev["order"]:
            if (p, l) not in owner:
                continue
            tu = true_us(p, l)
            if prev is not None:
                if tu <= prev:
                    problems.append("event %s: %s:%d not after previous record in true time" % (ev["event"], p, l))
                gaps.append(tu - prev)
            prev = tu
        if ev["context_event"] and ev["context_event"] not in events:
            problems.append("event %s: context_event %s unknown" % (ev["event"], ev["context_event"]))
    # ids: present in the event, absent from other events (except context pairs)
    hub_vals = {h["value"] for h in meta["hubs"]}
    line_owner_text = {}
    for (p, l), who in owner.items():
        line_owner_text.setdefault(who, []).append(content[p][l - 1])
    for ev in truth:
        own_text = "\n".join(line_owner_text.get(ev["event"], []))
        for v in ev["ids"]:
            if v in hub_vals or v.startswith("cus_"):
                problems.append("event %s lists a hub/identity value %s" % (ev["event"], v))
            if v not in own_text:
                problems.append("event %s: id %s appears in none of its lines" % (ev["event"], v))
        for other in truth:
            if other is ev or other["context_event"] == ev["event"]:
                continue
            text = "\n".join(line_owner_text.get(other["event"], []))
            for v in ev["ids"]:
                if v in text:
                    problems.append("id %s of %s appears in event %s" % (v, ev["event"], other["event"]))
    # hops point into their event, caller before callee
    for h in meta["hops"]:
        ev = events.get(h["event"])
        if ev is None:
            problems.append("hop names unknown event %s" % h["event"])
            continue
        for end in ("call", "callee_first"):
            if list(h[end]) not in [list(x) for x in ev["order"]]:
                problems.append("hop %s %s not in its event" % (h["event"], end))
        if true_us(*h["call"]) >= true_us(*h["callee_first"]):
            problems.append("hop %s: callee before caller" % h["event"])
    # hub lines carry the hub value
    for h in meta["hubs"]:
        hub_lines = [content[p][l - 1] for g in meta["unowned_lines"] if g["reason"] == "hub"
                     for p, l in g["lines"]]
        n_orders = sum(1 for x in hub_lines if h["value"] in x and '"order_id"' in x)
        if n_orders != h["touches"]:
            problems.append("hub touches %d, lines say %d" % (h["touches"], n_orders))
    kinds = {"duplicate_side_effect", "key_drift", "key_conflict", "partial_write",
             "stuck_processing", "retry_storm"}
    for ev in truth:
        for a in ev["anomalies"]:
            if a not in kinds:
                problems.append("unknown anomaly kind %s" % a)
    size = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(outdir) for n in ns)
    nlines = sum(len(v) for v in content.values())
    print("self-check: %d events, %d lines in %d files, %d hops, %d bytes, min gap %.1f ms"
          % (len(truth), nlines, len(content), len(meta["hops"]), size,
             (min(gaps) / 1000) if gaps else -1))
    for pr in problems[:50]:
        print("  PROBLEM:", pr)
    if problems:
        print("self-check FAILED (%d problems)" % len(problems))
        return 1
    print("self-check ok")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--skew-ms", type=int, default=1500)
    ap.add_argument("--self-check", action="store_true",
                    help="verify the bundle in --out (after generating it, if --events is given)")
    a = ap.parse_args(argv)
    if a.events is None and not a.self_check:
        ap.error("--events is required unless --self-check alone")
    if a.events is not None:
        if a.events < 1:
            ap.error("--events must be >= 1")
        os.makedirs(a.out, exist_ok=True)
        g = Gen(a.events, a.seed, a.skew_ms)
        g.generate()
        meta = g.write(a.out)
        print("wrote %s: %d events, anomalies %s, traps %s" % (
            a.out, len(g.events), json.dumps(meta["anomaly_counts"], sort_keys=True),
            json.dumps(meta["trap_counts"], sort_keys=True)))
    if a.self_check:
        return self_check(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
