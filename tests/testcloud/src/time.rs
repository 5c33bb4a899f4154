//! Timestamps in the formats the OpenStack services use.

use jiff::Timestamp;

/// The current time.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// `2026-11-26T16:00:00Z` (Nova, Neutron, Keystone resources).
pub fn iso_z(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `2026-11-26T16:00:00.000000` (Cinder).
pub fn iso_micro(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6f").to_string()
}

/// `2026-11-26T16:00:00.000000Z` (Keystone tokens).
pub fn iso_micro_z(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// `2026-11-26 16:00:00.000000` (oslo.messaging envelope timestamps).
pub fn oslo(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t: Timestamp = "2026-11-26T16:00:01.5Z".parse().unwrap();
        assert_eq!(iso_z(t), "2026-11-26T16:00:01Z");
        assert_eq!(iso_micro(t), "2026-11-26T16:00:01.500000");
        assert_eq!(iso_micro_z(t), "2026-11-26T16:00:01.500000Z");
        assert_eq!(oslo(t), "2026-11-26 16:00:01.500000");
    }
}
