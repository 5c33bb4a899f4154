//! `cargo +nightly fuzz run --fuzz-dir protocol/fuzz decode`: arbitrary bytes from the
//! bus must decode or be refused, never panic; whatever decodes must re-encode and
//! decode to the same bytes again (bytes, not values: a NaN load average is not equal
//! to itself).
#![no_main]

use holdfast_protocol::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::decode(data) {
        let bytes = envelope.encode().expect("a decoded envelope re-encodes");
        let again = Envelope::decode(&bytes).expect("a re-encoded envelope decodes");
        assert_eq!(again.encode().expect("re-encodes"), bytes);
    }
});
