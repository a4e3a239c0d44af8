#[tachometer::timed(nmae = "checkout_duration_seconds")]
fn checkout() {}

fn main() {
    checkout();
}
