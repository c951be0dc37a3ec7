//! Secrets at rest: sealing (authenticated encryption) for data we must read back
//! (tax ids, account numbers, link tokens), keyed hashes for one-time codes, and
//! plain SHA-256 for high-entropy tokens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The keys everything at rest is sealed with: the primary key (`DOTS_ENCRYPTION_KEY`)
/// seals; older keys (`DOTS_ENCRYPTION_KEYS_OLD`) only open, while `dots keys
/// rotate` re-seals what they sealed. A sealed value names its key: `v2$<key
/// id>$<base64 of nonce ‖ ciphertext>`, the key id being the first 8 hex digits of
/// the key's SHA-256. Values sealed before key ids (plain base64) are tried with
/// every key.
pub struct Keys {
    primary: KeySet,
    older: Vec<KeySet>,
}

/// One key's sub-keys, derived per purpose so no key serves two.
struct KeySet {
    id: String,
    seal: ChaCha20Poly1305,
    otp: [u8; 32],
}

impl KeySet {
    fn new(key: &[u8; 32]) -> KeySet {
        let derive = |purpose: &[u8]| -> [u8; 32] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(purpose);
            mac.finalize().into_bytes().into()
        };
        KeySet {
            id: hex(&Sha256::digest(key)[..4]),
            seal: ChaCha20Poly1305::new(Key::from_slice(&derive(b"dots seal v1"))),
            otp: derive(b"dots otp v1"),
        }
    }

    fn open(&self, context: &str, encoded: &str) -> Result<String, String> {
        let raw = B64.decode(encoded).map_err(|_| "sealed value is not base64")?;
        if raw.len() < 12 {
            return Err("sealed value is too short".into());
        }
        let (nonce, ciphertext) = raw.split_at(12);
        let plain = self
            .seal
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| "sealed value does not open with this key and context")?;
        String::from_utf8(plain).map_err(|_| "sealed value is not UTF-8".into())
    }

    fn code_hash(&self, verification_id: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.otp).expect("HMAC takes any key length");
        mac.update(verification_id.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

const SEALED_V2: &str = "v2$";

/// 64 hex characters → 32 bytes.
pub fn parse_hex_key(hex: &str) -> Result<[u8; 32], String> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("an encryption key is 64 hex characters (32 bytes); make one with `openssl rand -hex 32`".into());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
    }
    Ok(key)
}

impl Keys {
    /// One key that seals and opens.
    pub fn new(key: &[u8; 32]) -> Keys {
        Keys { primary: KeySet::new(key), older: Vec::new() }
    }

    /// The primary key and older ones that still open what they sealed.
    pub fn with_older(key: &[u8; 32], older: &[[u8; 32]]) -> Keys {
        let primary = KeySet::new(key);
        let older = older.iter().map(KeySet::new).filter(|k| k.id != primary.id).collect();
        Keys { primary, older }
    }

    /// Parses 64 hex characters.
    pub fn from_hex(hex: &str) -> Result<Keys, String> {
        Ok(Keys::new(&parse_hex_key(hex)?))
    }

    /// The primary key's id (what new values are sealed under).
    pub fn primary_id(&self) -> &str {
        &self.primary.id
    }

    /// Encrypts `plaintext` under the primary key, bound to `context` (e.g. the row
    /// it belongs to).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let sealed = self
            .primary
            .seal
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .expect("ChaCha20-Poly1305 encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{SEALED_V2}{}${}", self.primary.id, B64.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<String, String> {
        let all = || std::iter::once(&self.primary).chain(&self.older);
        match sealed.strip_prefix(SEALED_V2).and_then(|rest| rest.split_once('$')) {
            Some((id, encoded)) => match all().find(|k| k.id == id) {
                Some(key) => key.open(context, encoded),
                None => Err(format!("sealed with key {id}, which this server is not given")),
            },
            // Sealed before values named their key: whichever key opens it.
            None => all()
                .find_map(|k| k.open(context, sealed).ok())
                .ok_or_else(|| "sealed value does not open with any key this server is given".to_string()),
        }
    }

    /// True when `sealed` is not under the primary key (a rotation re-seals it).
    pub fn is_stale(&self, sealed: &str) -> bool {
        !sealed.starts_with(&format!("{SEALED_V2}{}$", self.primary.id))
    }

    /// A one-time code's stored form: HMAC keyed by the server, so a database dump
    /// alone cannot be brute-forced over the million possible codes.
    pub fn code_hash(&self, verification_id: &str, code: &str) -> String {
        self.primary.code_hash(verification_id, code)
    }

    /// Whether `stored` is the hash of `code` under any of the keys (a code sent
    /// just before a rotation still checks), compared in constant time.
    pub fn code_matches(&self, verification_id: &str, code: &str, stored: &str) -> bool {
        std::iter::once(&self.primary)
            .chain(&self.older)
            .fold(false, |any, k| any | constant_time_eq(&k.code_hash(verification_id, code), stored))
    }
}

/// SHA-256, hex: for random tokens and API secrets (≥ 128 bits of entropy).
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Lower-case hex, in one allocation (hashes are made on every request; a
/// `format!` per byte was ~1 % of a transfer's instructions).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// A random numeric code of `digits` digits, uniform.
pub fn numeric_code(digits: u32) -> String {
    let bound = 10u32.pow(digits);
    // Rejection sampling below the largest multiple of `bound` keeps it uniform.
    let limit = u32::MAX - u32::MAX % bound;
    loop {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        let n = u32::from_le_bytes(buf);
        if n < limit {
            return format!("{:0width$}", n % bound, width = digits as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let keys = Keys::new(&[7u8; 32]);
        let sealed = keys.seal("tax_id:usr_1", "123-45-6789");
        assert!(!sealed.contains("6789"));
        assert_eq!(keys.open("tax_id:usr_1", &sealed).unwrap(), "123-45-6789");
        assert!(keys.open("tax_id:usr_2", &sealed).is_err(), "moved to another row, it does not open");
        assert!(Keys::new(&[8u8; 32]).open("tax_id:usr_1", &sealed).is_err());
        assert_ne!(keys.seal("c", "x"), keys.seal("c", "x"), "fresh nonce each time");
    }

    #[test]
    fn codes_are_six_digits_and_hashes_are_keyed() {
        let code = numeric_code(6);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let (a, b) = (Keys::new(&[1u8; 32]), Keys::new(&[2u8; 32]));
        assert_ne!(a.code_hash("v", "123456"), b.code_hash("v", "123456"));
        assert_ne!(a.code_hash("v1", "123456"), a.code_hash("v2", "123456"));
        assert!(Keys::from_hex("zz").is_err());
    }

    #[test]
    fn sealed_values_name_their_key_and_open_after_a_rotation() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let before = Keys::new(&old);
        let sealed = before.seal("c", "secret");
        assert!(sealed.starts_with(&format!("v2${}$", before.primary_id())));
        let rotating = Keys::with_older(&new, &[old]);
        assert_eq!(rotating.open("c", &sealed).unwrap(), "secret", "the older key still opens");
        assert!(rotating.is_stale(&sealed) && !rotating.is_stale(&rotating.seal("c", "x")));
        let after = Keys::new(&new);
        assert!(after.open("c", &sealed).unwrap_err().contains(before.primary_id()), "names the missing key");
        // Values sealed before key ids: opened by whichever key fits.
        let legacy = sealed.rsplit('$').next().unwrap();
        assert_eq!(rotating.open("c", legacy).unwrap(), "secret");
        let code = before.code_hash("v", "123456");
        assert!(rotating.code_matches("v", "123456", &code) && !after.code_matches("v", "123456", &code));
    }
}
