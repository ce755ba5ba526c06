//! Extractors whose refusals are pages in the user's language (axum's own answer a broken
//! query string with plain English text).

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::guard::{Ctx, lang_of};
use crate::respond;

/// Like `Query<T>`, but a query string that does not parse gets a 400 page saying so.
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(v)) => Ok(Q(v)),
            Err(_) => {
                let ctx = parts.extensions.get::<Ctx>().cloned().unwrap_or_else(|| {
                    let (lang, _) = lang_of(&parts.headers, None);
                    Ctx {
                        lang,
                        lang_chosen: false,
                        session: None,
                        token: None,
                        machine: None,
                        csrf: String::new(),
                        secure_cookies: false,
                        synthetic: false,
                    }
                });
                Err(respond::status_page(
                    &ctx,
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                ))
            }
        }
    }
}
