//! Optional scrape authentication: a bearer token or HTTP Basic credentials.
//!
//! Metrics can reveal internals (hostnames, queue sizes, user counts), so an endpoint
//! reachable beyond localhost may want a shared secret. Prometheus supports both
//! schemes in its scrape config (`authorization: { credentials: … }` and
//! `basic_auth: { username, password }`). The secret is compared in constant time so
//! response timing does not leak how many leading bytes of a guess were right.

use std::fmt;

/// Credentials a request must present in its `Authorization` header.
///
/// ```
/// use tachometer::exporters::server::Auth;
/// let auth = Auth::bearer("s3cr3t-token").unwrap();
/// assert!(Auth::basic("user:name", "pw").is_err()); // ':' cannot appear in a Basic username
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct Auth {
    scheme: Scheme,
    /// What must follow the scheme name: the token, or `base64(user:password)`.
    expected: Box<[u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Basic,
}

/// Why credentials given to [`Auth`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The bearer token is empty.
    EmptyToken,
    /// The bearer token has a character outside RFC 6750's `b64token` set
    /// (letters, digits, `-._~+/`, trailing `=`).
    InvalidTokenChar(char),
    /// The Basic username contains `:`, which Basic auth uses as its separator.
    ColonInUsername,
    /// A Basic username or password contains a control character.
    ControlChar,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::EmptyToken => f.write_str("the bearer token is empty; give a non-empty token"),
            AuthError::InvalidTokenChar(c) => write!(
                f,
                "the bearer token contains {c:?}; use only letters, digits, '-', '.', '_', '~', '+', '/' and trailing '='"
            ),
            AuthError::ColonInUsername => {
                f.write_str("the Basic auth username contains ':'; choose a username without ':'")
            }
            AuthError::ControlChar => f.write_str(
                "the Basic auth username or password contains a control character; remove it",
            ),
        }
    }
}

impl std::error::Error for AuthError {}

impl Auth {
    /// Requires `Authorization: Bearer <token>`.
    pub fn bearer(token: impl AsRef<str>) -> Result<Self, AuthError> {
        let token = token.as_ref();
        if token.is_empty() {
            return Err(AuthError::EmptyToken);
        }
        let body = token.trim_end_matches('=');
        if body.is_empty() {
            return Err(AuthError::InvalidTokenChar('='));
        }
        if let Some(c) = body.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/'))
        }) {
            return Err(AuthError::InvalidTokenChar(c));
        }
        Ok(Self {
            scheme: Scheme::Bearer,
            expected: token.as_bytes().into(),
        })
    }

    /// Requires `Authorization: Basic base64(username:password)` (UTF-8).
    pub fn basic(username: impl AsRef<str>, password: impl AsRef<str>) -> Result<Self, AuthError> {
        let (user, pass) = (username.as_ref(), password.as_ref());
        if user.contains(':') {
            return Err(AuthError::ColonInUsername);
        }
        if user.chars().chain(pass.chars()).any(char::is_control) {
            return Err(AuthError::ControlChar);
        }
        let plain = format!("{user}:{pass}");
        Ok(Self {
            scheme: Scheme::Basic,
            expected: base64(plain.as_bytes()).into_bytes().into(),
        })
    }

    /// Whether an `Authorization` header value (if any) carries these credentials.
    #[must_use]
    pub(crate) fn check(&self, header: Option<&[u8]>) -> bool {
        let Some(header) = header else { return false };
        let name: &[u8] = match self.scheme {
            Scheme::Bearer => b"bearer",
            Scheme::Basic => b"basic",
        };
        let Some(space) = header.iter().position(|&b| b == b' ') else {
            return false;
        };
        let (scheme, rest) = header.split_at(space);
        if !scheme.eq_ignore_ascii_case(name) {
            return false;
        }
        let credentials = rest.trim_ascii();
        constant_time_eq(credentials, &self.expected)
    }

    /// The `WWW-Authenticate` challenge sent with a 401.
    #[must_use]
    pub(crate) fn challenge(&self) -> &'static str {
        match self.scheme {
            Scheme::Bearer => "Bearer realm=\"metrics\"",
            Scheme::Basic => "Basic realm=\"metrics\", charset=\"UTF-8\"",
        }
    }
}

impl fmt::Debug for Auth {
    // Never print the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// Compares `given` with `expected` in time that depends only on `expected.len()`.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(g ^ e);
    }
    std::hint::black_box(diff) == 0
}

/// Standard base64 with padding (RFC 4648 §4), enough for Basic credentials.
pub(super) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc, "{plain:?}");
        }
    }

    #[test]
    fn bearer_check() {
        let a = Auth::bearer("abc.DEF-123=").unwrap();
        assert!(a.check(Some(b"Bearer abc.DEF-123=")));
        assert!(a.check(Some(b"bearer   abc.DEF-123=")));
        assert!(!a.check(Some(b"Bearer abc.DEF-124=")));
        assert!(!a.check(Some(b"Bearer abc.DEF-123")));
        assert!(!a.check(Some(b"Bearer abc.DEF-123==")));
        assert!(!a.check(Some(b"Basic abc.DEF-123=")));
        assert!(!a.check(Some(b"Bearerabc.DEF-123=")));
        assert!(!a.check(Some(b"")));
        assert!(!a.check(None));
    }

    #[test]
    fn basic_check() {
        // RFC 7617 §2 example.
        let a = Auth::basic("Aladdin", "open sesame").unwrap();
        assert!(a.check(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")));
        assert!(a.check(Some(b"BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ==")));
        assert!(!a.check(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==")));
        assert!(!a.check(Some(b"Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==")));
        // RFC 7617 §2.1 UTF-8 example: "test" / "123£".
        let u = Auth::basic("test", "123\u{a3}").unwrap();
        assert!(u.check(Some(b"Basic dGVzdDoxMjPCow==")));
    }

    #[test]
    fn invalid_credentials_are_rejected_with_a_reason() {
        assert_eq!(Auth::bearer("").unwrap_err(), AuthError::EmptyToken);
        assert_eq!(
            Auth::bearer("a b").unwrap_err(),
            AuthError::InvalidTokenChar(' ')
        );
        assert_eq!(
            Auth::bearer("==").unwrap_err(),
            AuthError::InvalidTokenChar('=')
        );
        assert_eq!(
            Auth::bearer("a=b").unwrap_err(),
            AuthError::InvalidTokenChar('=')
        );
        assert_eq!(
            Auth::basic("a:b", "c").unwrap_err(),
            AuthError::ColonInUsername
        );
        assert_eq!(
            Auth::basic("a", "b\nc").unwrap_err(),
            AuthError::ControlChar
        );
        assert!(Auth::bearer("a b")
            .unwrap_err()
            .to_string()
            .contains("use only"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let a = Auth::bearer("topsecret").unwrap();
        assert!(!format!("{a:?}").contains("topsecret"));
    }

    #[test]
    fn constant_time_eq_semantics() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }
}
