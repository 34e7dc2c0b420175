#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    imagegen_fuzz::service::signed_url(data);
});
