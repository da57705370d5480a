#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sk_tracer_fuzz::skel(data));
