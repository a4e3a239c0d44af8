#[tachometer::timed(labels(region = "eu"))]
fn checkout() {}

#[tachometer::timed(name = "checkout_seconds", labels(result = "x"))]
fn reserved() {}

fn main() {
    checkout();
    reserved();
}
