//! TLS for the Postgres connection, with rustls (ring, no C toolchain
//! surprises) and libpq's `sslmode` meanings: `prefer`/`allow`/`require`
//! encrypt without checking who answers; `verify-ca` checks the chain;
//! `verify-full` checks the chain and the host name. Roots come from
//! `sslrootcert` when given, else from the system store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// libpq's sslmode values, all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres itself understands: whether to try TLS and
    /// whether plain text is an acceptable fallback.
    pub fn wire(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as W;
        match self {
            SslMode::Disable => W::Disable,
            SslMode::Allow | SslMode::Prefer => W::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => W::Require,
        }
    }
}

/// What the TLS connector checks, chosen from the sslmode.
#[derive(Debug, Clone)]
pub struct TlsPolicy {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl TlsPolicy {
    /// A rustls client config for this policy. Errors name the CA file.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let chain = match self.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => Some(
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.roots()?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("cannot use the CA roots: {e}"))?,
            ),
            _ => None,
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verify {
                chain,
                check_name: self.mode == SslMode::VerifyFull,
                provider,
            }))
            .with_no_client_auth())
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let certs = read_pem_certs(path)?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!(
                        "sslrootcert {}: no usable certificate",
                        path.display()
                    ));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(
                        "no system CA certificates found; give one with sslrootcert=PATH".into(),
                    );
                }
            }
        }
        Ok(roots)
    }
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?
        .collect();
    certs.map_err(|e| format!("sslrootcert {}: {e}", path.display()))
}

/// What each sslmode checks. Without a `chain` (prefer/allow/require)
/// libpq encrypts without asking who is on the other end; verify-ca checks
/// the chain to a trusted root but, like libpq, not the host name;
/// verify-full checks both. Handshake signatures are always checked
/// against the presented certificate, so the session key belongs to
/// whoever holds it.
#[derive(Debug)]
struct Verify {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_libpq_mode_is_known() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(m).unwrap().as_str(), m);
        }
        assert_eq!(SslMode::parse("on"), None);
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let policy = TlsPolicy {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/root.crt".into()),
        };
        let err = policy.client_config().unwrap_err();
        assert!(err.contains("/nonexistent/root.crt"), "{err}");
    }

    #[test]
    fn encrypt_only_modes_build_without_roots() {
        for mode in [SslMode::Prefer, SslMode::Require] {
            let policy = TlsPolicy {
                mode,
                root_cert: None,
            };
            assert!(policy.client_config().is_ok());
        }
    }
}
