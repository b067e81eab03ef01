//! TLS certificates for `/wss` listeners: loaded from PEM or generated self-signed.

use std::fmt;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::CertificateError;

/// A certificate chain and its private key, kept with their PEM text so they can be stored.
#[derive(Clone)]
pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    chain_pem: String,
    key_pem: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn parse_certificates(
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::Pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate);
    }
    Ok(chain)
}

impl Certificate {
    /// A certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), as PEM.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, CertificateError> {
        let chain = parse_certificates(chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => CertificateError::NoKey,
            e => CertificateError::Pem(e.to_string()),
        })?;
        Ok(Self {
            chain,
            key: key.secret_der().to_vec(),
            chain_pem: chain_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// Reads a certificate chain and key from two PEM files.
    pub fn from_pem_files(chain: &Path, key: &Path) -> Result<Self, CertificateError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| CertificateError::Read {
                path: path.to_owned(),
                source,
            })
        };
        Self::from_pem(&read(chain)?, &read(key)?)
    }

    /// Generates a self-signed certificate for these DNS names and IP addresses.
    pub fn self_signed(names: impl IntoIterator<Item = String>) -> Result<Self, CertificateError> {
        let names: Vec<String> = names.into_iter().collect();
        let certified =
            rcgen::generate_simple_self_signed(names).map_err(CertificateError::Generate)?;
        Self::from_pem(
            &certified.cert.pem(),
            &certified.signing_key.serialize_pem(),
        )
    }

    /// The chain as PEM.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// The private key as PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub(crate) fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub(crate) fn key_der(&self) -> Vec<u8> {
        self.key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trips_through_pem() {
        let cert =
            Certificate::self_signed(["localhost".into(), "127.0.0.1".into()]).expect("generate");
        let again = Certificate::from_pem(cert.chain_pem(), cert.key_pem()).expect("parse");
        assert_eq!(again.chain(), cert.chain());
        assert_eq!(again.key_der(), cert.key_der());
    }

    #[test]
    fn malformed_pem_is_a_typed_error() {
        let cert = Certificate::self_signed(["localhost".into()]).expect("generate");
        assert!(matches!(
            Certificate::from_pem("", cert.key_pem()),
            Err(CertificateError::NoCertificate)
        ));
        assert!(matches!(
            Certificate::from_pem(cert.chain_pem(), "garbage"),
            Err(CertificateError::NoKey)
        ));
        let truncated = &cert.chain_pem()[..cert.chain_pem().len() / 2];
        assert!(Certificate::from_pem(truncated, cert.key_pem()).is_err());
    }
}
