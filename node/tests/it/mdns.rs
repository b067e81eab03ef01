//! mDNS.
