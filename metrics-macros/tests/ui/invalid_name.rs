#[tachometer::timed(name = "checkout-duration")]
fn checkout() {}

fn main() {
    checkout();
    tachometer::counter!("2xx_total").increment(1);
}
