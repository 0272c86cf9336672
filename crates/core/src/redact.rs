//! Hiding the password of a URL (`postgres://user:secret@host/db`, `redis://:secret@host`)
//! before it is logged or printed; everything else of the URL stays readable.

/// What a hidden password is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `url` with the password of its user-info replaced by [`REDACTED`]; unchanged when it has
/// none.
pub fn url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:{REDACTED}{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn passwords_are_hidden_and_nothing_else() {
        assert_eq!(
            url_password("postgres://aide:secret@db:5432/aide"),
            "postgres://aide:[redacted]@db:5432/aide"
        );
        assert_eq!(
            url_password("redis://:pw@cache:6379/0"),
            "redis://:[redacted]@cache:6379/0"
        );
        assert_eq!(url_password("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
        assert_eq!(url_password("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(url_password("redis://user@cache"), "redis://user@cache");
        assert_eq!(
            url_password("http://host/path?x=a@b"),
            "http://host/path?x=a@b"
        );
    }
}
