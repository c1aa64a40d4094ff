//! Newtypes for protocol values. Secrets never print in `Debug` (test builds aside,
//! inside `reveal::with`).

macro_rules! secret_string {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        ///
        /// `Debug` prints `[redacted]`. There is no `==`: compare with
        /// [`matches`](Self::matches), which takes time independent of the contents.
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value, to put on the wire. Do not log it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Compares with another value in time independent of where they differ.
            pub fn matches(&self, other: &str) -> bool {
                $crate::core::constant_time_eq(self.0.as_bytes(), other.as_bytes())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                #[cfg(test)]
                if $crate::core::types::reveal::on() {
                    return write!(f, concat!(stringify!($name), "({:?})"), self.0);
                }
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}
pub(crate) use secret_string;

/// Test builds only: `Debug` that shows secrets, for a model check's identity of
/// states. Two states that differ only in a token or a body are different states;
/// redacted, they would be taken as one and the second never explored.
#[cfg(test)]
pub(crate) mod reveal {
    use std::cell::Cell;

    thread_local! {
        static ON: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether secrets print in `Debug` on this thread now.
    pub(crate) fn on() -> bool {
        ON.with(Cell::get)
    }

    /// Runs `f` with secrets printed in `Debug` on this thread.
    pub(crate) fn with<R>(f: impl FnOnce() -> R) -> R {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                ON.with(|on| on.set(self.0));
            }
        }
        let _reset = Reset(ON.with(|on| on.replace(true)));
        f()
    }
}

secret_string!(
    /// An OAuth access token.
    AccessToken
);
secret_string!(
    /// An OAuth refresh token. Kept in memory only.
    RefreshToken
);
secret_string!(
    /// An authorization code from the callback.
    AuthorizationCode
);
secret_string!(
    /// A raw ID token (compact JWS).
    IdToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let t = AccessToken::new("eyJhbGciOi.secret.sig");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", RefreshToken::new("r")),
            "RefreshToken([redacted])"
        );
        assert_eq!(t.secret(), "eyJhbGciOi.secret.sig");
        assert!(t.matches("eyJhbGciOi.secret.sig"));
        assert!(!t.matches("eyJhbGciOi.secret.sih"));
        assert!(!t.matches("eyJhbGciOi"));
    }

    #[test]
    fn secrets_show_only_inside_reveal() {
        let t = AccessToken::new("at-1");
        assert_eq!(reveal::with(|| format!("{t:?}")), r#"AccessToken("at-1")"#);
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        // Back to redacted after a panic inside, too.
        let caught = std::panic::catch_unwind(|| reveal::with(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(!reveal::on());
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
    }
}
