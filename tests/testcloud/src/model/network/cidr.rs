//! IPv4 CIDR arithmetic.

use std::fmt;
use std::net::Ipv4Addr;

use crate::model::{CloudError, CloudResult};

/// A normalised IPv4 network, e.g. `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> CloudResult<Self> {
        let bad = || {
            CloudError::bad(format!(
                "Invalid input for cidr. Reason: '{s}' is not a valid IP subnet."
            ))
        };
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let mask = Self::mask_of(prefix);
        Ok(Self {
            addr: u32::from(ip) & mask,
            prefix,
        })
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    pub fn network(&self) -> u32 {
        self.addr
    }

    pub fn broadcast(&self) -> u32 {
        self.addr | !Self::mask_of(self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_of(self.prefix) == self.addr
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.network() <= other.broadcast() && other.network() <= self.broadcast()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_and_checks() {
        let c = Cidr::parse("10.0.0.7/24").unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/24");
        assert!(c.contains("10.0.0.255".parse().unwrap()));
        assert!(!c.contains("10.0.1.0".parse().unwrap()));
        assert_eq!(c.broadcast(), u32::from(Ipv4Addr::new(10, 0, 0, 255)));
        assert!(c.overlaps(&Cidr::parse("10.0.0.128/25").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.0.1.0/24").unwrap()));
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/24", "10.0.0.0/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
