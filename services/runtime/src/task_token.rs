//! Task tokens (`$$.Task.Token`): 128 bits from the OS CSPRNG, bound to their execution and
//! authenticated with HMAC-SHA256 under a key every worker and gateway of a deployment
//! shares, so any of them refuses a forged or altered token before looking anything up.
//!
//! A token is `base64url(version ‖ SHA-256(execution ARN)[..16] ‖ random[16] ‖ tag[32])`,
//! where `tag = HMAC-SHA256(key, version ‖ execution ‖ random)`. ring (already in the tree
//! through rustls) provides the MAC, its constant-time check, SHA-256 and the OS generator.

use base64::Engine as _;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::fmt;

const VERSION: u8 = 1;
const EXECUTION_BYTES: usize = 16;
const RANDOM_BYTES: usize = 16;
const TAG_BYTES: usize = 32;
const BODY_BYTES: usize = 1 + EXECUTION_BYTES + RANDOM_BYTES;
const TOKEN_BYTES: usize = BODY_BYTES + TAG_BYTES;
/// The token's length in base64url without padding.
const TOKEN_CHARS: usize = (TOKEN_BYTES * 4).div_ceil(3);
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The shortest key accepted: HMAC-SHA256's own block of security.
pub const MIN_KEY_BYTES: usize = 32;

/// The environment variable that sets the key (`task_token_key` in a configuration file).
pub const KEY_ENV: &str = "QUICKSTEP_TASK_TOKEN_KEY";
/// The environment variable that sets the previous key, still accepted while a rotation
/// reaches every process (`task_token_previous_key`).
pub const PREVIOUS_KEY_ENV: &str = "QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY";

/// A configured key. Its text is the key's bytes; `Debug` never shows them, so a logged
/// configuration does not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskTokenSecret(String);

impl TaskTokenSecret {
    /// A secret from its text (e.g. `openssl rand -base64 48`).
    pub fn new(text: impl Into<String>) -> TaskTokenSecret {
        TaskTokenSecret(text.into())
    }

    /// A fresh random secret (48 bytes from the OS, as base64): `quickstep dev` shares one
    /// between its worker and gateway for the life of the process.
    pub fn random() -> Result<TaskTokenSecret, KeyError> {
        let mut bytes = [0u8; 48];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyError::Random)?;
        Ok(TaskTokenSecret(BASE64.encode(bytes)))
    }
}

impl fmt::Debug for TaskTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskTokenSecret(***)")
    }
}

/// Why the keys cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key is configured.
    #[error(
        "no task token key: set task_token_key in the configuration file or {KEY_ENV} \
         (at least {MIN_KEY_BYTES} bytes, the same for every worker and gateway; e.g. \
         `openssl rand -base64 48`)"
    )]
    Missing,
    /// A key is too short to resist guessing.
    #[error("{setting} is {length} bytes; a task token key needs at least {MIN_KEY_BYTES}")]
    TooShort {
        /// The setting at fault.
        setting: &'static str,
        /// Its length in bytes.
        length: usize,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    Random,
}

/// Why a token is refused; either way the caller answers `InvalidToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format (wrong length, alphabet or version).
    #[error("the task token is malformed")]
    Malformed,
    /// Well-formed, but no accepted key signed it: forged, altered, or from another deployment.
    #[error("the task token was not issued by this deployment")]
    Forged,
}

impl TokenError {
    /// The metric label (`quickstep_callbacks_rejected_total{reason}`).
    pub fn label(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed_token",
            TokenError::Forged => "forged_token",
        }
    }
}

/// What a verified token says: which execution it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    execution: [u8; EXECUTION_BYTES],
}

impl TokenClaims {
    /// Whether the token was minted for the execution `execution_arn`.
    pub fn is_for(&self, execution_arn: &str) -> bool {
        self.execution == execution_digest(execution_arn)
    }
}

/// The keys of a deployment: mints with the current key, accepts the current and the
/// previous one (rotation: deploy the new key with the old one as previous everywhere, then
/// drop the previous once no token signed by it can still be waited on — 5 minutes).
pub struct TaskTokenKeys {
    current: hmac::Key,
    previous: Option<hmac::Key>,
    random: SystemRandom,
}

impl fmt::Debug for TaskTokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTokenKeys")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl TaskTokenKeys {
    /// The keys a worker or gateway is configured with; none is an error (tokens minted by
    /// one process must verify in every other).
    pub fn from_config(
        current: Option<&TaskTokenSecret>,
        previous: Option<&TaskTokenSecret>,
    ) -> Result<TaskTokenKeys, KeyError> {
        let current = current.ok_or(KeyError::Missing)?;
        let key = |setting, secret: &TaskTokenSecret| {
            let length = secret.0.len();
            if length < MIN_KEY_BYTES {
                return Err(KeyError::TooShort { setting, length });
            }
            Ok(hmac::Key::new(hmac::HMAC_SHA256, secret.0.as_bytes()))
        };
        let keys = TaskTokenKeys {
            current: key("task_token_key", current)?,
            previous: previous
                .map(|p| key("task_token_previous_key", p))
                .transpose()?,
            random: SystemRandom::new(),
        };
        keys.check_random()?;
        Ok(keys)
    }

    /// A random key of this process only (`quickstep dev`, `quickstep run`, tests): its
    /// tokens verify nowhere else, which is right where one process runs everything.
    pub fn ephemeral() -> Result<TaskTokenKeys, KeyError> {
        let random = SystemRandom::new();
        let current =
            hmac::Key::generate(hmac::HMAC_SHA256, &random).map_err(|_| KeyError::Random)?;
        Ok(TaskTokenKeys {
            current,
            previous: None,
            random,
        })
    }

    fn check_random(&self) -> Result<(), KeyError> {
        let mut probe = [0u8; 1];
        self.random.fill(&mut probe).map_err(|_| KeyError::Random)
    }

    /// A fresh token for a task of `execution_arn`.
    pub fn mint(&self, execution_arn: &str) -> String {
        let mut token = [0u8; TOKEN_BYTES];
        token[0] = VERSION;
        token[1..1 + EXECUTION_BYTES].copy_from_slice(&execution_digest(execution_arn));
        // Checked when the keys were built; the OS generator does not fail afterwards
        // (getrandom only fails before the kernel's pool is first initialised).
        self.random
            .fill(&mut token[1 + EXECUTION_BYTES..BODY_BYTES])
            .expect("the OS random generator worked when the keys were built");
        let tag = hmac::sign(&self.current, &token[..BODY_BYTES]);
        token[BODY_BYTES..].copy_from_slice(tag.as_ref());
        BASE64.encode(token)
    }

    /// Checks a token's form and tag (under the current key, then the previous one).
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        // The length first: no decoding work for anything that cannot be a token.
        if token.len() != TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        let bytes = BASE64.decode(token).map_err(|_| TokenError::Malformed)?;
        if bytes.len() != TOKEN_BYTES || bytes[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_BYTES);
        let signed = |key: &hmac::Key| hmac::verify(key, body, tag).is_ok();
        if !signed(&self.current) && !self.previous.as_ref().is_some_and(signed) {
            return Err(TokenError::Forged);
        }
        let mut execution = [0u8; EXECUTION_BYTES];
        execution.copy_from_slice(&body[1..1 + EXECUTION_BYTES]);
        Ok(TokenClaims { execution })
    }
}

impl asl::interpret::TaskTokens for TaskTokenKeys {
    fn mint(&self, execution_arn: &str) -> String {
        TaskTokenKeys::mint(self, execution_arn)
    }
}

fn execution_digest(execution_arn: &str) -> [u8; EXECUTION_BYTES] {
    let digest = ring::digest::digest(&ring::digest::SHA256, execution_arn.as_bytes());
    let mut out = [0u8; EXECUTION_BYTES];
    out.copy_from_slice(&digest.as_ref()[..EXECUTION_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:states:local:000000000000:express:orders:a";
    const B: &str = "arn:aws:states:local:000000000000:express:orders:b";

    fn keys(current: &str, previous: Option<&str>) -> TaskTokenKeys {
        TaskTokenKeys::from_config(
            Some(&TaskTokenSecret::new(current)),
            previous.map(TaskTokenSecret::new).as_ref(),
        )
        .expect("valid keys")
    }

    const KEY_1: &str = "first-key-of-this-deployment-32-bytes-long";
    const KEY_2: &str = "second-key-of-this-deployment-32-bytes-long";

    #[test]
    fn a_minted_token_verifies_and_names_its_execution() {
        let keys = keys(KEY_1, None);
        let token = keys.mint(A);
        assert_eq!(token.len(), TOKEN_CHARS);
        let claims = keys.verify(&token).expect("verifies");
        assert!(claims.is_for(A));
        assert!(!claims.is_for(B), "bound to its own execution only");
    }

    #[test]
    fn consecutive_tokens_differ_in_their_random_part_and_verify_only_with_the_key() {
        let keys = keys(KEY_1, None);
        let (first, second) = (keys.mint(A), keys.mint(A));
        let (first, second) = (
            BASE64.decode(first).unwrap(),
            BASE64.decode(second).unwrap(),
        );
        assert_eq!(first[..1 + EXECUTION_BYTES], second[..1 + EXECUTION_BYTES]);
        assert_ne!(
            first[1 + EXECUTION_BYTES..BODY_BYTES],
            second[1 + EXECUTION_BYTES..BODY_BYTES],
            "fresh randomness per token"
        );
        // No counter relation: the random parts are not one step apart.
        let number = |bytes: &[u8]| u128::from_be_bytes(bytes.try_into().unwrap());
        let (x, y) = (
            number(&first[1 + EXECUTION_BYTES..BODY_BYTES]),
            number(&second[1 + EXECUTION_BYTES..BODY_BYTES]),
        );
        assert!(x.abs_diff(y) > 1 << 64, "{x} and {y} are too close");
        // Someone who saw both cannot make a third: the same body with another tag fails,
        // and another key's token fails here.
        let other = keys_other();
        assert_eq!(
            keys.verify(&other.mint(A)),
            Err(TokenError::Forged),
            "an unknown key is refused"
        );
    }

    fn keys_other() -> TaskTokenKeys {
        keys("a-key-of-another-deployment-at-least-32-bytes", None)
    }

    #[test]
    fn altered_or_malformed_tokens_are_refused() {
        let keys = keys(KEY_1, None);
        let token = keys.mint(A);
        let mut bytes = BASE64.decode(&token).unwrap();
        // Moving the token to execution B without the key: the tag no longer matches.
        bytes[1..1 + EXECUTION_BYTES].copy_from_slice(&execution_digest(B));
        assert_eq!(keys.verify(&BASE64.encode(&bytes)), Err(TokenError::Forged));
        let mut flipped = BASE64.decode(&token).unwrap();
        flipped[TOKEN_BYTES - 1] ^= 1;
        assert_eq!(
            keys.verify(&BASE64.encode(&flipped)),
            Err(TokenError::Forged)
        );
        let mut version = BASE64.decode(&token).unwrap();
        version[0] = 9;
        assert_eq!(
            keys.verify(&BASE64.encode(&version)),
            Err(TokenError::Malformed)
        );
        for bad in [
            "",
            "token-1",
            &"f".repeat(64),
            &token[1..],
            &format!("{token}A"),
        ] {
            assert_eq!(keys.verify(bad), Err(TokenError::Malformed), "{bad}");
        }
        let mut alphabet = token.clone();
        alphabet.replace_range(0..1, "*");
        assert_eq!(keys.verify(&alphabet), Err(TokenError::Malformed));
    }

    #[test]
    fn the_previous_key_is_accepted_during_a_rotation() {
        let old = keys(KEY_1, None);
        let rotated = keys(KEY_2, Some(KEY_1));
        let token = old.mint(A);
        assert!(rotated.verify(&token).expect("previous key").is_for(A));
        assert!(rotated.verify(&rotated.mint(A)).is_ok());
        // Once the previous key is dropped, its tokens are refused.
        assert_eq!(keys(KEY_2, None).verify(&token), Err(TokenError::Forged));
        // The old process does not accept the new key's tokens (rotate the previous key in
        // everywhere before minting with the new one).
        assert_eq!(old.verify(&rotated.mint(A)), Err(TokenError::Forged));
    }

    #[test]
    fn keys_must_be_configured_and_long_enough() {
        assert_eq!(
            TaskTokenKeys::from_config(None, None).unwrap_err(),
            KeyError::Missing
        );
        let short = TaskTokenSecret::new("short");
        assert_eq!(
            TaskTokenKeys::from_config(Some(&short), None).unwrap_err(),
            KeyError::TooShort {
                setting: "task_token_key",
                length: 5
            }
        );
        let good = TaskTokenSecret::new(KEY_1);
        assert!(matches!(
            TaskTokenKeys::from_config(Some(&good), Some(&short)).unwrap_err(),
            KeyError::TooShort {
                setting: "task_token_previous_key",
                ..
            }
        ));
        assert!(KeyError::Missing.to_string().contains(KEY_ENV));
        assert_eq!(format!("{good:?}"), "TaskTokenSecret(***)", "never shown");
    }

    #[test]
    fn random_secrets_are_long_enough_and_differ() {
        let (one, two) = (
            TaskTokenSecret::random().unwrap(),
            TaskTokenSecret::random().unwrap(),
        );
        assert_ne!(one, two);
        let keys = TaskTokenKeys::from_config(Some(&one), None).expect("long enough");
        assert!(keys.verify(&keys.mint(A)).is_ok());
    }

    #[test]
    fn ephemeral_keys_are_their_process_own() {
        let (one, two) = (
            TaskTokenKeys::ephemeral().unwrap(),
            TaskTokenKeys::ephemeral().unwrap(),
        );
        assert!(one.verify(&one.mint(A)).is_ok());
        assert_eq!(two.verify(&one.mint(A)), Err(TokenError::Forged));
    }
}
