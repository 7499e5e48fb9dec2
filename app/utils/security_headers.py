"""The security headers every API response carries, error responses included."""

# The API serves JSON only: nothing may load, frame or run from it.
API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

API_HEADERS = {**BASE_HEADERS, "Content-Security-Policy": API_CONTENT_SECURITY_POLICY}
