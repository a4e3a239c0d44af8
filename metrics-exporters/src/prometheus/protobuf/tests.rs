//! Byte-level tests against the hand-computed vectors of
//! `protocols-push-native.md` §1.6 and §2.8, and a decode of every kind.

use std::time::Duration;

use tachometer_core::{Buckets, HdrConfig, NativeConfig, NativeSide, Opts, Registry};

use super::{spans_and_deltas, ProtobufEncoder};
use crate::pbwire::reader::{fields, unzigzag, varint, Value};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn encode(r: &Registry) -> Vec<u8> {
    ProtobufEncoder::new().encode(r).to_vec()
}

#[test]
fn tv1_1_counter() {
    let r = Registry::new();
    r.counter(Opts::new("hits_total", "")).unwrap().increment(3);
    assert_eq!(
        encode(&r),
        hex("1b 0a 0a 68 69 74 73 5f 74 6f 74 61 6c 18 00 22 0b 1a 09 09 00 00 00 00 00 00 08 40")
    );
}

#[test]
fn tv1_2_gauge_with_label_and_help() {
    let r = Registry::new();
    r.float_gauge_family(Opts::new("temp", "T").labels(&["room"]))
        .unwrap()
        .with_labels(&["a"])
        .unwrap()
        .set(21.5);
    assert_eq!(
        encode(&r),
        hex("23 0a 04 74 65 6d 70 12 01 54 18 01 22 16 0a 09 0a 04 72 6f 6f 6d 12 01 61 12 09 09 00 00 00 00 00 80 35 40")
    );
}

const TV1_3_HISTOGRAM_TAIL: &str =
    "28 00 31 00 00 00 00 00 00 f0 37 38 01 62 04 08 02 10 02 62 04 08 08 10 01 68 02 68 00 68 00";

#[test]
fn tv1_3_native_histogram() {
    let r = Registry::new();
    let h = r
        .native_histogram(Opts::new("h", ""), NativeConfig::new().schema(0))
        .unwrap();
    for v in [0.0, 1.5, 3.0, 100.0] {
        h.record(v);
    }
    let want = format!(
        "33 0a 01 68 18 04 22 2c 3a 2a 08 04 11 00 00 00 00 00 20 5a 40 {TV1_3_HISTOGRAM_TAIL}"
    );
    assert_eq!(encode(&r), hex(&want));
}

#[test]
fn tv1_3_classic_plus_native() {
    // The same with one classic bucket {cumulative 3, le 10}: 13 bytes more at each level.
    let r = Registry::new();
    let h = r
        .native_histogram(
            Opts::new("h", ""),
            NativeConfig::new()
                .schema(0)
                .classic(Buckets::new(&[10.0]).unwrap()),
        )
        .unwrap();
    for v in [0.0, 1.5, 3.0, 100.0] {
        h.record(v);
    }
    let want = format!(
        "40 0a 01 68 18 04 22 39 3a 37 08 04 11 00 00 00 00 00 20 5a 40 \
         1a 0b 08 03 11 00 00 00 00 00 00 24 40 {TV1_3_HISTOGRAM_TAIL}"
    );
    assert_eq!(encode(&r), hex(&want));
}

#[test]
fn tv1_4_empty_native_histogram_has_the_noop_span() {
    let r = Registry::new();
    r.native_histogram(
        Opts::new("e", ""),
        NativeConfig::new().schema(3).zero_threshold(0.0),
    )
    .unwrap();
    assert_eq!(
        encode(&r),
        hex("27 0a 01 65 18 04 22 20 3a 1e 08 00 11 00 00 00 00 00 00 00 00 28 06 31 00 00 00 00 00 00 00 00 38 00 62 04 08 00 10 00")
    );
}

#[test]
fn spans_and_deltas_fill_gaps_of_up_to_two_buckets() {
    // §2.8: populated -2→3, -1→5, 2→1, 4→3, 5→2 become one span [-2, 8] and
    // deltas [3, 2, -5, 0, 1, -1, 3, -1].
    let side = NativeSide {
        first_key: -2,
        counts: vec![3, 5, 0, 0, 1, 0, 3, 2],
        inf: 0,
    };
    let (mut spans, mut deltas) = (Vec::new(), Vec::new());
    spans_and_deltas(&side, 0, &mut spans, &mut deltas);
    assert_eq!(spans, vec![(-2, 8)]);
    assert_eq!(deltas, vec![3, 2, -5, 0, 1, -1, 3, -1]);

    // TV1.3's buckets {1, 2, 7}: gap 4 > 2 starts a new span.
    let side = NativeSide {
        first_key: 1,
        counts: vec![1, 1, 0, 0, 0, 0, 1],
        inf: 0,
    };
    spans_and_deltas(&side, 0, &mut spans, &mut deltas);
    assert_eq!(spans, vec![(1, 2), (4, 1)]);
    assert_eq!(deltas, vec![1, 0, 0]);

    // The +Inf bucket sits one above the MaxFloat64 bucket (1024 at schema 0).
    let side = NativeSide {
        first_key: 0,
        counts: vec![2],
        inf: 5,
    };
    spans_and_deltas(&side, 0, &mut spans, &mut deltas);
    assert_eq!(spans, vec![(0, 1), (1024, 1)]);
    assert_eq!(deltas, vec![2, 3]);

    spans_and_deltas(&NativeSide::default(), 0, &mut spans, &mut deltas);
    assert!(spans.is_empty() && deltas.is_empty());
}

/// Splits a delimited stream into `(name, type, metrics)` per family.
fn families(mut body: &[u8]) -> Vec<(String, u64, Vec<&[u8]>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let len = varint(&mut body).unwrap() as usize;
        let (msg, rest) = body.split_at(len);
        body = rest;
        let (mut name, mut kind, mut metrics) = (String::new(), u64::MAX, Vec::new());
        for (f, v) in fields(msg).unwrap() {
            match (f, v) {
                (1, Value::Len(b)) => name = String::from_utf8(b.to_vec()).unwrap(),
                (3, Value::Varint(k)) => kind = k,
                (4, Value::Len(b)) => metrics.push(b),
                _ => {}
            }
        }
        out.push((name, kind, metrics));
    }
    out
}

fn field<'a>(msg: &'a [u8], n: u32) -> Vec<Value<'a>> {
    fields(msg)
        .unwrap()
        .into_iter()
        .filter(|(f, _)| *f == n)
        .map(|(_, v)| v)
        .collect()
}

fn len<'a>(v: &Value<'a>) -> &'a [u8] {
    match v {
        Value::Len(b) => b,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn double(v: &Value<'_>) -> f64 {
    match v {
        Value::I64(b) => f64::from_bits(*b),
        other => panic!("expected a double, got {other:?}"),
    }
}

#[test]
fn every_kind_decodes_with_its_type_and_values() {
    let r = Registry::new();
    r.counter(Opts::new("c_total", "")).unwrap().increment(2);
    r.gauge(Opts::new("g", "")).unwrap().set(-4);
    r.histogram(Opts::new("h", ""), Buckets::new(&[1.0, 2.0]).unwrap())
        .unwrap()
        .record(1.5);
    r.hdr_histogram(Opts::new("hdr", ""), HdrConfig::default())
        .unwrap()
        .record(1000);
    r.meter(Opts::new("m_total", "")).unwrap().mark(3);
    let n = r
        .native_histogram(Opts::new("n", ""), NativeConfig::new())
        .unwrap();
    n.record(-1.0);
    n.record(2.0);
    r.timer(Opts::new("t_seconds", ""))
        .unwrap()
        .record(Duration::from_millis(20));
    let body = encode(&r);
    let fams = families(&body);
    let names: Vec<(&str, u64)> = fams.iter().map(|(n, k, _)| (n.as_str(), *k)).collect();
    assert_eq!(
        names,
        vec![
            ("c_total", 0),
            ("g", 1),
            ("h", 4),
            ("hdr", 2),
            ("m_total", 0),
            ("m_rate", 1),
            ("n", 4),
            ("t_seconds", 2),
        ]
    );
    let metric = |name: &str| fams.iter().find(|f| f.0 == name).unwrap().2[0];
    // Counter 2.
    let c = len(&field(metric("c_total"), 3)[0]);
    assert_eq!(double(&field(c, 1)[0]), 2.0);
    // Gauge -4.
    assert_eq!(double(&field(len(&field(metric("g"), 2)[0]), 1)[0]), -4.0);
    // Classic histogram: count 1, buckets 0 then 1, no native fields.
    let h = len(&field(metric("h"), 7)[0]);
    assert_eq!(field(h, 1), vec![Value::Varint(1)]);
    assert_eq!(field(h, 3).len(), 2);
    assert!(field(h, 5).is_empty() && field(h, 6).is_empty());
    // Native: schema 3, one negative and one positive bucket.
    let nh = len(&field(metric("n"), 7)[0]);
    assert_eq!(field(nh, 1), vec![Value::Varint(2)]);
    assert_eq!(field(nh, 5), vec![Value::Varint(6)]);
    let delta = |v: &Value<'_>| match v {
        Value::Varint(z) => unzigzag(*z),
        other => panic!("{other:?}"),
    };
    assert_eq!(field(nh, 10).iter().map(delta).collect::<Vec<_>>(), vec![1]);
    assert_eq!(field(nh, 13).iter().map(delta).collect::<Vec<_>>(), vec![1]);
    // Timer: summary in seconds.
    let t = len(&field(metric("t_seconds"), 4)[0]);
    assert_eq!(field(t, 1), vec![Value::Varint(1)]);
    assert!((double(&field(t, 2)[0]) - 0.02).abs() < 1e-12);
    assert_eq!(field(t, 3).len(), 6);
    // Meter rates: four gauges with a window label.
    assert_eq!(fams.iter().find(|f| f.0 == "m_rate").unwrap().2.len(), 4);
}

#[test]
fn families_without_series_are_left_out_and_buffers_are_reused() {
    let r = Registry::new();
    r.counter_family(Opts::new("unused_total", "").labels(&["a"]))
        .unwrap();
    let mut e = ProtobufEncoder::new();
    assert!(e.encode(&r).is_empty());
    let f = r
        .counter_family(Opts::new("x_total", "").labels(&["a"]))
        .unwrap();
    for i in 0..200 {
        f.with_labels(&[i.to_string()]).unwrap().increment(1);
    }
    let first = e.encode(&r).to_vec();
    assert_eq!(families(&first)[0].2.len(), 200);
    assert_eq!(e.encode(&r), &first[..]);
}

#[test]
fn text_formats_show_the_classic_part_of_a_native_histogram() {
    use super::super::{Encoder, Format};
    let r = Registry::new();
    let hybrid = r
        .native_histogram(
            Opts::new("lat_seconds", ""),
            NativeConfig::new().classic(Buckets::new(&[0.1, 1.0]).unwrap()),
        )
        .unwrap();
    let native = r
        .native_histogram(Opts::new("n_seconds", ""), NativeConfig::new())
        .unwrap();
    for v in [0.05, 0.5, 2.0] {
        hybrid.record(v);
        native.record(v);
    }
    let text = Encoder::new().encode(&r, Format::Text004).to_owned();
    assert_eq!(
        text,
        "# TYPE lat_seconds histogram\n\
         lat_seconds_bucket{le=\"0.1\"} 1\n\
         lat_seconds_bucket{le=\"1.0\"} 2\n\
         lat_seconds_bucket{le=\"+Inf\"} 3\n\
         lat_seconds_sum 2.55\n\
         lat_seconds_count 3\n\
         # TYPE n_seconds histogram\n\
         n_seconds_bucket{le=\"+Inf\"} 3\n\
         n_seconds_sum 2.55\n\
         n_seconds_count 3\n"
    );
    let om = Encoder::new().encode(&r, Format::OpenMetrics100).to_owned();
    assert!(om.contains("# TYPE lat_seconds histogram\n"), "{om}");
    assert!(om.contains("n_seconds_bucket{le=\"+Inf\"} 3\n"), "{om}");
}
