//! The token for a browser. A browser sends no `Authorization` header when it opens a page, so
//! with `server.auth` the trace page asks for the token in a form (`POST /login`) and keeps it in
//! a cookie that the endpoints accept as they accept the header. The cookie is `HttpOnly` (the
//! page's script never sees it), `SameSite=Strict` (another site's page cannot send it, so cannot
//! make this browser export), `Secure` over HTTPS, and ends with the browser session. A rotated
//! token refuses the cookie too: the page then asks again.

use std::sync::Arc;

use bytes::Bytes;
use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::auth::AuthFailure;
use super::ServerState;

pub const COOKIE: &str = "sk-tracer-token";

/// Larger login forms are not a token.
pub const MAX_FORM_BYTES: u64 = 8 * 1024;

/// The bytes a cookie value may not hold as they are (RFC 6265's cookie-octet, less `%`).
const COOKIE_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+')
    .remove(b'/')
    .remove(b'=')
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn cookie_value(token: &[u8]) -> String {
    percent_encode(token, COOKIE_ESCAPED).to_string()
}

/// The token the request's cookie carries, as the `Authorization` value that would carry it.
pub fn bearer_from_cookie(headers: &HeaderMap) -> Option<Vec<u8>> {
    let token =
        headers.get_all(header::COOKIE).iter().flat_map(|v| v.as_bytes().split(|b| *b == b';')).find_map(|pair| {
            let pair = pair.trim_ascii();
            let value = pair.strip_prefix(COOKIE.as_bytes())?.strip_prefix(b"=")?;
            Some(percent_decode(value).collect::<Vec<u8>>())
        })?;
    Some([b"Bearer ".as_slice(), &token].concat())
}

/// The `token` field of an `application/x-www-form-urlencoded` body.
fn token_of_form(body: &[u8]) -> Option<Vec<u8>> {
    form_urlencoded::parse(body).find(|(key, _)| key == "token").map(|(_, value)| value.into_owned().into_bytes())
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The form that asks for the token, with why it is asked again (if it is).
pub fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let problem =
        problem.map(|p| format!(r#"<p role="alert" class="problem">{}</p>"#, html_text(p))).unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sk-tracer: token</title><link rel="icon" href="data:,">
<style>body{{font:15px system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;color:#1d2430}}
input{{font:inherit;width:100%;padding:6px;margin:6px 0 12px}}button{{font:inherit;padding:6px 16px}}.problem{{color:#b91c1c}}</style>
</head><body><h1>sk-tracer</h1>
<p>This tracer requires its token (the content of <code>server.auth.tokenFile</code>) to show its trace.</p>
{problem}<form method="post" action="login"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Open the trace page</button></form></body></html>"#
    );
    let mut resp = Response::new(html.into());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="sk-tracer""#));
    resp
}

/// What the page's refusal says to a person.
pub fn problem(failure: &AuthFailure) -> Option<&'static str> {
    match failure {
        AuthFailure::Missing => None,
        AuthFailure::Malformed | AuthFailure::Wrong => {
            Some("That token is not valid (or it was rotated): enter the current one.")
        }
        AuthFailure::Unavailable(_) => {
            Some("The tracer cannot read its token file, so it refuses everyone; see its log.")
        }
    }
}

/// `POST /login`: a valid token is set as the cookie and the browser sent to the page.
pub fn login(body: Bytes, state: Arc<ServerState>, https: bool) -> Response {
    let Some(store) = &state.auth else {
        return see_page(None);
    };
    let Some(token) = token_of_form(&body).filter(|t| !t.trim_ascii().is_empty()) else {
        return login_page(StatusCode::BAD_REQUEST, Some("Enter the token."));
    };
    let token = token.trim_ascii();
    match store.check(Some(&[b"Bearer ".as_slice(), token].concat())) {
        Ok(()) => {
            let secure = if https { "; Secure" } else { "" };
            let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}", cookie_value(token));
            see_page(HeaderValue::from_str(&cookie).ok())
        }
        Err(failure) => {
            state.metrics.count_refused(failure.reason());
            login_page(StatusCode::UNAUTHORIZED, problem(&failure))
        }
    }
}

fn see_page(cookie: Option<HeaderValue>) -> Response {
    let mut resp = Response::new(Bytes::new().into());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    // Relative, so that it works behind a proxy's path prefix too.
    resp.headers_mut().insert(header::LOCATION, HeaderValue::from_static("./"));
    if let Some(cookie) = cookie {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_goes_into_the_cookie_and_comes_back_as_a_bearer() {
        for token in ["s3cret", "a;b c=d%", "ünï"] {
            let mut headers = HeaderMap::new();
            let cookie = format!("other=1; {COOKIE}={}; last=2", cookie_value(token.as_bytes()));
            headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
            assert_eq!(bearer_from_cookie(&headers).unwrap(), format!("Bearer {token}").into_bytes(), "{token}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("sk-tracer-tokenx=1; other=2"));
        assert_eq!(bearer_from_cookie(&headers), None);
        assert_eq!(bearer_from_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_form_field_is_decoded_as_browsers_encode_it() {
        assert_eq!(token_of_form(b"token=a+b%2Fc%3D").unwrap(), b"a b/c=");
        assert_eq!(token_of_form(b"x=1&token=t").unwrap(), b"t");
        assert_eq!(token_of_form(b"token=%zz").unwrap(), b"%zz", "kept as sent, to be refused as a wrong token");
        assert_eq!(token_of_form(b"other=1"), None);
    }

    #[test]
    fn the_login_page_escapes_what_it_says() {
        let resp = login_page(StatusCode::UNAUTHORIZED, Some("<b>"));
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    }
}
