//! A Bitswap message as a peer sends it: decoding never panics, and what decodes encodes back
//! to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_exchange::{Message, Version};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let again = Message::decode(&message.encode(Version::V1_2)).expect("our encoding decodes");
        assert_eq!(again, message);
        // Older versions drop what they cannot say, and still decode.
        for version in [Version::V1_1, Version::V1_0] {
            Message::decode(&message.encode(version)).expect("our encoding decodes");
        }
    }
});
