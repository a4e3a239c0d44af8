trait Store {
    #[tachometer::timed]
    fn get(&self, key: &str) -> Option<String>;
}

fn main() {}
