#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = imagegen_fuzz::images::transcode_any(data);
});
