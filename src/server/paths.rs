//! The one table of what headwire serves: every [`Route`] with its path, in the order `/metrics`
//! reports them. The router, the metrics and the links on the pages all read it, so a route is
//! added in one place.

/// A path headwire serves (`GET` and `HEAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A merged, filtered feed.
    Feed(Format),
    /// `/`: the page for people.
    Index,
    /// `/opml`: every section feed, for a reader's import.
    Opml,
    /// `/api/status`: poll state per section, as JSON.
    Status,
    /// `/healthz`: liveness.
    Health,
    /// `/metrics`: Prometheus text.
    Metrics,
    /// `/img/{token}`: a story image fetched with its page as `Referer` (`image_proxy`).
    Image,
}

/// Every route, feeds first (a feed's index is its [`Format`] discriminant).
pub const ROUTES: [Route; 9] = [
    Route::Feed(Format::Rss),
    Route::Feed(Format::Atom),
    Route::Feed(Format::Json),
    Route::Index,
    Route::Opml,
    Route::Status,
    Route::Health,
    Route::Metrics,
    Route::Image,
];

impl Route {
    /// The path this route answers.
    pub const fn path(self) -> &'static str {
        match self {
            Route::Feed(Format::Rss) => "/feed.rss",
            Route::Feed(Format::Atom) => "/feed.atom",
            Route::Feed(Format::Json) => "/feed.json",
            Route::Index => "/",
            Route::Opml => "/opml",
            Route::Status => "/api/status",
            Route::Health => "/healthz",
            Route::Metrics => "/metrics",
            Route::Image => "/img/{token}",
        }
    }

    /// Where [`Route::Image`]'s signed tokens start (the path before `{token}`).
    pub const IMAGE_BASE: &'static str = "/img/";

    /// This route's position in [`ROUTES`].
    pub fn index(self) -> usize {
        ROUTES
            .iter()
            .position(|r| *r == self)
            .unwrap_or(ROUTES.len())
    }
}

/// The feed formats served (the discriminant is the format's index in [`ROUTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0.
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    /// The path that serves this format.
    pub const fn path(self) -> &'static str {
        Route::Feed(self).path()
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_own_path_and_a_feed_sits_at_its_format() {
        for (i, route) in ROUTES.iter().enumerate() {
            assert_eq!(route.index(), i);
            assert_eq!(
                ROUTES.iter().filter(|r| r.path() == route.path()).count(),
                1
            );
        }
        for format in [Format::Rss, Format::Atom, Format::Json] {
            assert_eq!(ROUTES[format as usize], Route::Feed(format));
        }
    }
}
