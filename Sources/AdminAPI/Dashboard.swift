import HTTP1

/// The built-in dashboard (issue #20): one HTML page, `Dashboard/dashboard.html`, compiled into the binary (no CDN, no
/// download at run time). It reads and drives the server only through the admin API (`/_hyperpod/…`) of the same origin.
/// Docs: docs/dashboard.md.
public enum Dashboard {
    /// Where the page is served: `GET /_hyperpod/ui`.
    public static let path = "/_hyperpod/ui"

    /// The page as compiled in.
    public static var page: [UInt8] { PackageResources.dashboard_html }

    /// 200 with the page. The page runs only its own inline script and talks only to its own origin (the
    /// `Content-Security-Policy` says so); nothing caches it, and no other site may frame it.
    public static func response(_ page: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: [
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        ], body: page)
    }

    /// Whether a request is a browser asking for `/`: a `GET /` whose `Accept` lists `text/html`. API clients never send
    /// one; the handler answers it with a redirect to the page only after the AWS router has refused it, so nothing is
    /// added to the path of API requests.
    public static func isBrowserRoot(_ request: HTTPRequest) -> Bool {
        request.method == "GET" && request.path == "/" && (request.headers["Accept"]?.contains("text/html") ?? false)
    }

    /// 302 to the page.
    public static let redirect = HTTPResponse(
        status: .found, headers: ["Location": path, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"],
        body: Array(#"<!doctype html><title>hyperpod-local</title><a href="/_hyperpod/ui">hyperpod-local dashboard</a>"#.utf8))
}
