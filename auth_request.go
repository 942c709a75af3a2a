// This file exports the server layer's reading of an upgrade request's
// credentials, so that a handler of your own (Upgrade or Handler) can
// authenticate exactly as ServeWSWithConfig does.

package websocket

import "net/http"

// Where TokenFromRequest found a token.
const (
	TokenInHeader      = "header"      // Authorization: Bearer <token>
	TokenInSubprotocol = "subprotocol" // Sec-WebSocket-Protocol: bearer.<token>, or the marker then the token
	TokenInQuery       = "query"       // ?token= or ?access_token=, only when allowed
)

// TokenFromRequest returns the bearer token of an upgrade request and
// where it was found (TokenInHeader, TokenInSubprotocol, TokenInQuery),
// the way ServeWSWithConfig reads it: from "Authorization: Bearer", from
// a Sec-WebSocket-Protocol entry (TokenSubprotocolPrefix + token, or
// TokenSubprotocolMarker followed by the token: browsers cannot set
// headers), or from the query string (?token=, ?access_token=) only when
// allowQuery. No token is ("", "", nil). Errors: ErrQueryTokenNotAllowed
// (a query token while not allowed), ErrMultipleTokens (more than one, in
// one place or several), an error matching ErrInvalidToken (empty or
// longer than MaxTokenLength). It verifies nothing: pass the token to a
// TokenAuthenticator, or use AuthenticateRequest.
//
// A token sent as a subprotocol entry is not a subprotocol: with Upgrade,
// list in Config.Subprotocols only the real ones (browsers require the
// server to choose one of those it offered).
func TokenFromRequest(r *http.Request, allowQuery bool) (token, where string, err error) {
	ar, err := authFromRequest(r, allowQuery)
	if err != nil {
		return "", "", err
	}
	switch ar.source {
	case authHeader:
		where = TokenInHeader
	case authProtocol:
		where = TokenInSubprotocol
	case authQuery:
		where = TokenInQuery
	}
	return ar.token, where, nil
}

// AuthenticateRequest finds the request's token (TokenFromRequest) and
// verifies it with auth, returning the user its claims describe. A
// request without a token is ErrMissingToken. Answer a failure with
// WriteUnauthorized, before upgrading. Safe for concurrent use if auth
// is.
func AuthenticateRequest(r *http.Request, auth TokenAuthenticator, allowQuery bool) (*UserInfo, error) {
	tok, _, err := TokenFromRequest(r, allowQuery)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, ErrMissingToken
	}
	if auth == nil {
		return nil, authInvalid("no authenticator configured")
	}
	claims, err := auth.AuthenticateToken(tok)
	if err != nil {
		return nil, err
	}
	return ExtractUserInfo(claims), nil
}

// WriteUnauthorized answers a request whose authentication failed as
// ServeWSWithConfig does: 401 with a Bearer WWW-Authenticate challenge
// whose error and error_description (RFC 6750) say what was wrong with
// the token (a Dial refused this way reports them in its error).
func WriteUnauthorized(w http.ResponseWriter, err error) { authReject(w, err) }
