//! The calling thread of the direct client never allocates for a typical event: the line
//! is formatted into an inline buffer and moved into a preallocated queue slot.
#![cfg(feature = "statsd")]

use std::time::Duration;

use tachometer_exporters::statsd::{Dialect, Event, StatsdClient, Target};
use tachometer_testkit::{allocations_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn enqueuing_an_event_does_not_allocate() {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tags = [("env", "prod"), ("route", "/users/{id}")];
    for dialect in [Dialect::etsy(), Dialect::dogstatsd()] {
        let client = StatsdClient::builder(Target::udp(sink.local_addr().unwrap().to_string()))
            .dialect(dialect)
            .prefix("app")
            .queue_capacity(4096)
            .build()
            .unwrap();
        // Warm up: thread-locals (the sampling RNG) are set up on first use.
        client.send(Event::count("warm", 1).rate(0.5));
        let ((), allocs) = allocations_during(|| {
            for i in 0..1000 {
                client.count("requests", 1);
                client.gauge("temperature", -3.5);
                client.timing("latency", Duration::from_micros(1500));
                client.send(Event::histogram("size", f64::from(i)).rate(0.5).tags(&tags));
            }
        });
        assert_eq!(allocs, 0, "{dialect:?}");
        client.flush().unwrap();
        // The events were queued, not dropped: the measured path is the real one.
        assert_eq!(client.dropped(), 0);
    }
}
