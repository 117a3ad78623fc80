//! Keyed pseudonyms for person identifiers: HMAC-SHA-256 (RustCrypto `hmac`
//! and `sha2`), no hand-written cryptography.
//!
//! A pseudonym is the first 128 bits of `HMAC-SHA-256(key, "caregap-person-v1\0" || id)`
//! as 32 lower-case hex digits. The same key gives the same pseudonym for the
//! same identifier on every import (nightly loads join); without the key the
//! mapping cannot be computed or reversed. What this protects against, and
//! what not, is in docs/import.md ("Pseudonymisation").

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Domain separation: pseudonyms of person ids never equal other HMACs of the key.
const PERSON: &[u8] = b"caregap-person-v1\0";
const FINGERPRINT: &[u8] = b"caregap-key-fingerprint-v1\0";

/// A loaded key. `Debug` does not show it.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from a key file's bytes: surrounding whitespace (a trailing
    /// newline) removed; at least [`MIN_KEY_BYTES`] bytes must remain.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Key, String> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace());
        let key = match (start, end) {
            (Some(s), Some(e)) => &bytes[s..=e],
            _ => &[][..],
        };
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key file holds {} bytes; at least {MIN_KEY_BYTES} are needed \
                 (make one with `openssl rand -hex 32 > KEYFILE` and keep it outside the data folder)",
                key.len()
            ));
        }
        let mac = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(Key { mac })
    }

    fn hmac(&self, domain: &[u8], id: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(id);
        mac.finalize().into_bytes().into()
    }

    /// The pseudonym of a person identifier.
    pub fn pseudonym(&self, id: &str) -> String {
        hex::encode(&self.hmac(PERSON, id.as_bytes())[..16])
    }

    /// A fingerprint of the key (8 hex digits of a separate HMAC): lets a user
    /// see that two imports used the same key without revealing it.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.hmac(FINGERPRINT, b"")[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &[u8] = b"0123456789abcdef0123456789abcdef\n";

    #[test]
    fn same_key_same_pseudonym_other_key_other() {
        let a = Key::from_file_bytes(K).unwrap();
        let b = Key::from_file_bytes(b"  0123456789abcdef0123456789abcdef  ").unwrap();
        let c = Key::from_file_bytes(b"0123456789abcdef0123456789abcdeX").unwrap();
        assert_eq!(a.pseudonym("123"), b.pseudonym("123"));
        assert_ne!(a.pseudonym("123"), a.pseudonym("124"));
        assert_ne!(a.pseudonym("123"), c.pseudonym("123"));
        assert_eq!(a.pseudonym("123").len(), 32);
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(!format!("{a:?}").contains("0123"));
    }

    #[test]
    fn matches_an_independent_hmac() {
        // RFC 4231 test case 2 checks the primitive: key "Jefe" is too short
        // for a key file, so check the construction through the Mac directly.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // And the pseudonym is that HMAC over the domain-separated id.
        let key = Key::from_file_bytes(K).unwrap();
        let mut mac = HmacSha256::new_from_slice(&K[..32]).unwrap();
        mac.update(b"caregap-person-v1\0P0000001");
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(key.pseudonym("P0000001"), full[..32]);
    }

    #[test]
    fn short_key_is_refused() {
        let err = Key::from_file_bytes(b"short\n").unwrap_err();
        assert!(err.contains("at least 32"), "{err}");
    }
}
