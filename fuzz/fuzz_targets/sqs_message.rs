#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imagegen_fuzz::service::sqs_message(data));
