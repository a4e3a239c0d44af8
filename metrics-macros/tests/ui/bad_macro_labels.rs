fn main() {
    let route = "/";
    tachometer::histogram!("latency_seconds", "le" => "0.5").record(1.0);
    tachometer::counter!("hits_total", "route-name" => route).increment(1);
    tachometer::counter!("hits_total", "route" => route, "route" => "x").increment(1);
    let name = "dynamic_total";
    tachometer::counter!(name).increment(1);
}
