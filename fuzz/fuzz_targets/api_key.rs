#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    imagegen_fuzz::service::api_key(data);
});
