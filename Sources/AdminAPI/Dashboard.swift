import Crypto
import HTTP1

/// The built-in dashboard (issue #20): one HTML page, `Dashboard/dashboard.html`, compiled into the binary (no CDN, no
/// download at run time). It reads and drives the server only through the admin API (`/_hyperpod/…`) of the same origin.
/// Docs: docs/dashboard.md.
public enum Dashboard {
    /// Where the page is served: `GET /_hyperpod/ui`.
    public static let path = "/_hyperpod/ui"

    /// The page as compiled in.
    public static var page: [UInt8] { PackageResources.dashboard_html }

    /// The compiled-in page's answer, built once.
    static let builtInResponse = response(page)

    /// 200 with the page. Its `Content-Security-Policy` lets the page run only its own inline scripts (allowed by their
    /// SHA-256, computed here, so an injected script or event handler would not run), talk only to its own origin, load
    /// nothing else, and be framed by no site; nothing caches it.
    public static func response(_ page: [UInt8]) -> HTTPResponse {
        let scripts = scriptHashes(page).map { "'sha256-\($0)'" }.joined(separator: " ")
        return HTTPResponse(status: .ok, headers: [
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": "default-src 'none'; script-src \(scripts.isEmpty ? "'none'" : scripts); style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        ], body: page)
    }

    /// Base64 SHA-256 of the text of each `<script>` element of the page, as CSP hashes them.
    static func scriptHashes(_ page: [UInt8]) -> [String] {
        let open = Array("<script>".utf8), close = Array("</script>".utf8)
        var hashes: [String] = [], index = 0
        while let start = firstIndex(of: open, in: page, from: index), let end = firstIndex(of: close, in: page, from: start + open.count) {
            hashes.append(Base64.encode(Array(SHA256.hash(data: page[(start + open.count)..<end])), alphabet: .standard))
            index = end + close.count
        }
        return hashes
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
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
