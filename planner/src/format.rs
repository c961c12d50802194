pub fn format(_: &str) {}
