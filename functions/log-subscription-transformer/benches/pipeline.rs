//! criterion: the decode → parse → enrich → serialize path and the floor (decode only) on a
//! ~1 MB-compressed mixed batch. `cargo bench -p log-subscription-transformer`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use log_subscription_transformer::transform::{self, Rules};
use log_subscription_transformer::{decode, fixtures};

fn bench(c: &mut Criterion) {
    let rules = Rules::standard();
    let (data, _events, raw_len) = fixtures::payload_of_compressed_size(1_000_000);
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Bytes(raw_len as u64));
    group.sample_size(20);
    group.bench_function("floor_decode_only", |b| {
        b.iter(|| {
            let json = decode::inflate(&data).expect("payload");
            decode::parse(&json).expect("payload").log_events.len()
        })
    });
    group.bench_function("pipeline", |b| {
        b.iter(|| {
            let json = decode::inflate(&data).expect("payload");
            let batch = decode::parse(&json).expect("payload");
            let t = transform::transform(&batch, "us-east-1", &rules, |_| ());
            t.lines.text.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
